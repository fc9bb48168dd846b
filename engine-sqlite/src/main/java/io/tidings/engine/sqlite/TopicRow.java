package io.tidings.engine.sqlite;

import io.tidings.core.TopicHead;

/**
 * A topic as the writer knows it: its row id and its head. Immutable, so a head can be handed to
 * readers and listeners while the writer moves on.
 */
record TopicRow(long id, TopicHead head) {
  TopicRow withHead(TopicHead newHead) {
    return new TopicRow(id, newHead);
  }
}
