package io.tidings.client;

import java.time.Instant;

/**
 * A topic as listed by {@link TidingsClient#topics(String)}.
 *
 * @param topic its name
 * @param cursor its head cursor
 * @param firstOffset the oldest retained offset ({@code lastOffset + 1} when none is retained)
 * @param lastOffset the newest offset
 * @param keys the number of state entries
 * @param lastEventTime when its newest event was appended, or null when it has none
 */
public record TopicInfo(String topic, String cursor, long firstOffset, long lastOffset, long keys,
    Instant lastEventTime) {
}
