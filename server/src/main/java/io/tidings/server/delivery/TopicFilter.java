package io.tidings.server.delivery;

import io.tidings.core.TopicPattern;
import io.tidings.server.auth.GrantPattern;
import java.util.ArrayList;
import java.util.List;

/** The topics a target receives: those its patterns match that its owner's grants allow. */
public final class TopicFilter {
  private final List<TopicPattern> patterns;
  private final List<GrantPattern> grants;
  private final String subject;

  public TopicFilter(List<String> patterns, Owner owner) {
    List<TopicPattern> compiled = new ArrayList<>(patterns.size());
    for (String p : patterns) {
      compiled.add(TopicPattern.compile(p));
    }
    this.patterns = List.copyOf(compiled);
    this.grants = owner.grants();
    this.subject = owner.subject();
  }

  /** Whether events of {@code topic} are delivered. */
  public boolean wants(String topic) {
    boolean matched = false;
    for (TopicPattern p : patterns) {
      if (p.matches(topic)) {
        matched = true;
        break;
      }
    }
    if (!matched) {
      return false;
    }
    for (GrantPattern g : grants) {
      if (g.matches(topic, subject)) {
        return true;
      }
    }
    return false;
  }

  /** The literal start of each pattern (up to its first wildcard segment), to list candidate topics. */
  public List<String> prefixes(List<String> texts) {
    List<String> out = new ArrayList<>();
    for (String text : texts) {
      int star = text.indexOf('*');
      String prefix = star < 0 ? text : text.substring(0, star);
      if (out.stream().noneMatch(prefix::startsWith)) {
        out.removeIf(o -> o.startsWith(prefix));
        out.add(prefix);
      }
    }
    return out;
  }
}
