package io.tidings.client;

/**
 * A topic's position could not be resumed: the events after it were trimmed by retention, or it
 * belongs to another history of the server's store (the store was wiped, or the memory store
 * restarted). Nothing is skipped silently: the topic's current state follows as {@code put} events,
 * then live events continue after {@link #cursor()}. A caller keeping a local copy of the topic
 * clears it when it sees a reset.
 *
 * @param topic the topic
 * @param cursor where delivery continues after the state
 * @param reason {@code retention}, {@code epoch}, or {@code expired} (an HTTP {@code 410
 *     cursor_expired}, which does not say which of the two)
 */
public record Reset(String topic, String cursor, String reason) {
}
