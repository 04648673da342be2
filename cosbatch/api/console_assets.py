"""The console's style sheet and script, served inline with each page (nothing is fetched from
anywhere else at run time: no CDN, no chart library).

Failed tasks are drawn in FAILURE_COLOUR, never in the success green.
"""

from __future__ import annotations

SUCCESS_COLOUR = "#2f7d32"
FAILURE_COLOUR = "#c62828"

CSS = f"""
*{{box-sizing:border-box}}[hidden]{{display:none!important}}
body{{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}}
header{{background:#1d2330;color:#fff;padding:10px 20px}}header a{{color:#fff;text-decoration:none;font-weight:600;
margin-right:16px}}
main{{padding:16px 20px;max-width:1400px}}table{{border-collapse:collapse;width:100%;background:#fff}}
.scroll{{overflow-x:auto;max-width:100%}}
th,td{{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}}
th a{{color:inherit}}td.mono,span.mono{{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}}
.bar{{width:160px;max-width:100%;height:10px;background:#e3e6ea;border-radius:5px;overflow:hidden;
display:inline-flex}}
.bar>i{{display:block;height:100%}}.bar>i.ok{{background:{SUCCESS_COLOUR}}}.bar>i.fail{{background:{FAILURE_COLOUR}}}
.status{{font-weight:600}}.Failed,.Cancelled,.has-failures{{color:{FAILURE_COLOUR}}}
.Complete{{color:{SUCCESS_COLOUR}}}.Complete.has-failures{{color:{FAILURE_COLOUR}}}.Suspended{{color:#b26a00}}
form.inline{{display:inline-block;margin:0 8px 6px 0}}.filters{{margin-bottom:12px}}
.filters label{{display:inline-block;margin:0 8px 6px 0}}
.flash{{padding:8px;margin-bottom:12px;border-radius:4px}}.flash.err{{background:#fdecea}}
.flash.ok{{background:#e8f5e9}}
dl{{display:grid;grid-template-columns:minmax(90px,220px) minmax(0,1fr);gap:4px 12px;background:#fff;padding:12px}}
dt{{font-weight:600}}dd{{margin:0;word-break:break-word;overflow-wrap:anywhere;min-width:0}}
table.failures{{width:auto}}td.count{{text-align:right;color:{FAILURE_COLOUR};font-weight:600}}
svg.chart{{width:100%;max-width:600px;height:140px;background:#fff;border:1px solid #e3e6ea;display:block}}
svg.chart polyline{{fill:none;stroke:#1565c0;stroke-width:2;vector-effect:non-scaling-stroke}}
fieldset{{background:#fff;border:1px solid #e3e6ea;margin:0 0 12px;padding:8px 12px;min-width:0}}
fieldset label{{display:block;margin:6px 0}}fieldset input[type=text],fieldset input:not([type]),
fieldset select,fieldset textarea{{width:100%;max-width:640px}}
fieldset textarea{{font-family:ui-monospace,monospace;font-size:12px}}
a.button{{display:inline-block;margin:0 8px 6px 0}}
@media (max-width:600px){{main{{padding:10px}}header{{padding:10px}}
 table#jobs thead{{display:none}}table#jobs tr{{display:block;border-bottom:1px solid #e3e6ea;padding:4px 0}}
 table#jobs td{{display:block;border:0;padding:2px 8px}}dl{{grid-template-columns:minmax(0,1fr)}}
 dt{{margin-top:6px}}}}
"""

JS = """
const shown=document.querySelector('[data-shown-status]');
if(location.search.match(/[?&](ok|err)=/)){  // a message belongs to one moment: reloading must not repeat it
  const u=new URL(location.href);u.searchParams.delete('ok');u.searchParams.delete('err');
  history.replaceState(null,'',u.pathname+u.search);}
function drawChart(svg,points){
  // points: [[unix seconds, tasks run], ...] -> tasks per second between consecutive samples
  const rates=[];for(let i=1;i<points.length;i++){const dt=points[i][0]-points[i-1][0];
    if(dt>0)rates.push([points[i][0],(points[i][1]-points[i-1][1])/dt]);}
  const line=svg.querySelector('polyline'),label=document.getElementById('throughput-text');
  if(!rates.length){line.setAttribute('points','');if(label)label.textContent='no samples yet';return;}
  const t0=points[0][0],t1=points[points.length-1][0],span=Math.max(t1-t0,1);
  const peak=Math.max(...rates.map(r=>r[1]),1e-9);
  const xy=[[0,100]];let prev=0;
  for(const [t,r] of rates){const x=(t-t0)/span*300,y=100-r/peak*90;
    xy.push([prev,y],[x,y]);prev=x;}
  line.setAttribute('points',xy.slice(1).map(p=>p[0].toFixed(1)+','+p[1].toFixed(1)).join(' '));
  if(label)label.textContent='peak '+peak.toFixed(1)+' tasks/s, '+rates.length+' interval(s) over '
    +Math.round(span)+' s';
}
function failuresTable(el,counts){
  const entries=Object.entries(counts);
  if(!entries.length){el.textContent='none';return;}
  const t=document.createElement('table');t.className='failures';
  for(const [code,n] of entries){const tr=t.insertRow();const a=tr.insertCell(),b=tr.insertCell();
    a.className='mono code';a.textContent=code;b.className='count';b.textContent=n;}
  el.replaceChildren(t);
}
function refresh(){
  const rows=document.querySelectorAll('[data-job]');
  if(!rows.length)return;
  const ids=[...rows].map(r=>r.dataset.job).join(',');
  const chart=document.getElementById('throughput');
  fetch('/console/api/progress?ids='+encodeURIComponent(ids)+(chart?'&detail=1':''),{credentials:'same-origin'})
   .then(r=>r.ok?r.json():null).then(data=>{
    if(!data)return;
    for(const row of rows){const j=data[row.dataset.job];if(!j)continue;
      const st=row.querySelector('.status');
      if(st){st.textContent=j.status_text;st.className='status '+j.status+(j.failed_tasks?' has-failures':'');}
      const ok=row.querySelector('.bar>i.ok'),fail=row.querySelector('.bar>i.fail');
      if(ok){ok.style.width=j.ok_percent+'%';}if(fail){fail.style.width=j.failed_percent+'%';}
      const txt=row.querySelector('.progress-text');if(txt){txt.textContent=j.text;}
      for(const k of ['succeeded','failed','total','active']){
        const el=row.querySelector('[data-field='+k+']');if(el){el.textContent=j[k];}}
      if(j.failures){const el=document.getElementById('failures');if(el)failuresTable(el,j.failures);}
      if(j.samples&&chart)drawChart(chart,j.samples);
      if(shown&&shown.dataset.shownStatus!==j.status){  // the page's message is about an older status
        for(const f of document.querySelectorAll('.flash.ok.about-status'))f.remove();}
      const rerun=document.getElementById('rerun-form');if(rerun)rerun.hidden=!(j.terminal&&j.failed_tasks>0);const undo=document.getElementById('undo-form');if(undo)undo.hidden=!j.terminal;
      const cancel=document.getElementById('cancel-form');if(cancel&&j.terminal)cancel.hidden=true;
    }
   }).catch(()=>{});
}
for(const f of document.querySelectorAll('form[data-confirm]')){
  f.addEventListener('submit',ev=>{if(!window.confirm(f.dataset.confirm))ev.preventDefault();});}
const source=document.getElementById('manifest-source');
function showSource(){if(!source)return;
  for(const el of document.querySelectorAll('[data-source]'))
    el.hidden=!el.dataset.source.split(' ').includes(source.value);}
if(source){source.addEventListener('change',showSource);showSource();}
const operation=document.getElementById('f-operation'),params=document.getElementById('f-params');
if(operation&&params){  // a new operation brings its example, unless the parameters were edited
  const examples=JSON.parse(params.dataset.examples||'{}');let previous=operation.value;
  operation.addEventListener('change',()=>{
    const was=JSON.stringify(examples[previous]||{});
    let same=!params.value.trim();try{same=same||JSON.stringify(JSON.parse(params.value))===was;}catch(err){}
    if(same)params.value=JSON.stringify(examples[operation.value]||{});
    previous=operation.value;});}
refresh();setInterval(refresh,2000);  // drawn at once (a finished job's page never changes), then kept live
"""
