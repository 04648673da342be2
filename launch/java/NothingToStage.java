package io.cosbatch.flink;

import java.util.Collections;
import java.util.List;
import org.apache.beam.sdk.util.construction.resources.PipelineResourcesDetector;

/** Stages no jar with a Flink job: Beam's runner classes are on the cluster's own class path. */
public final class NothingToStage implements PipelineResourcesDetector.Factory {
  public static NothingToStage create() {
    return new NothingToStage();
  }

  @Override
  public PipelineResourcesDetector getPipelineResourcesDetector() {
    return new Detector();
  }

  static final class Detector implements PipelineResourcesDetector {
    private static final long serialVersionUID = 1L;

    @Override
    public List<String> detect(ClassLoader classLoader) {
      return Collections.emptyList();
    }
  }
}
