package io.tidings.core;

import java.util.List;

/**
 * A page of a topic's state, read as one consistent snapshot.
 *
 * @param head the topic head the entries reflect
 * @param entries entries sorted by key (UTF-8 byte order)
 * @param nextKey the key to pass as {@code afterKey} for the next page, or {@code null} on the last page
 */
public record StatePage(TopicHead head, List<StateEntry> entries, String nextKey) {
  public StatePage {
    entries = List.copyOf(entries);
  }
}
