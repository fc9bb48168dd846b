package io.tidings.server.delivery;

import java.util.List;

/** A target that receives the topics its patterns match and its owner's grants allow. */
public abstract class FilteredTarget implements Target {
  private final TopicFilter filter;
  private final List<String> prefixes;

  protected FilteredTarget(List<String> topics, Owner owner) {
    this.filter = new TopicFilter(topics, owner);
    this.prefixes = filter.prefixes(topics);
  }

  @Override
  public final boolean wants(String topic) {
    return filter.wants(topic);
  }

  @Override
  public final List<String> prefixes() {
    return prefixes;
  }
}
