/**
 * A small Java client for Tidings: {@code java.net.http} and Jackson, nothing else.
 *
 * <p>Start with {@link io.tidings.client.TidingsClient#builder(java.net.URI)}. The client publishes
 * events ({@link io.tidings.client.TidingsClient#publish(String, NewEvent...)}), reads a topic's
 * whole state ({@link io.tidings.client.TidingsClient#state(String)}), pages through its changes
 * ({@link io.tidings.client.TidingsClient#changes(String, String, int)}) and lists topics
 * ({@link io.tidings.client.TidingsClient#topics(String)}); every failure of these is a
 * {@link io.tidings.client.TidingsException}.
 *
 * <p>It follows topics with
 * {@link io.tidings.client.TidingsClient#subscribe(java.util.List, String, SubscribeOptions, SubscriptionListener)}
 * (a {@link io.tidings.client.Subscription} calling a {@link io.tidings.client.SubscriptionListener}),
 * {@link io.tidings.client.TidingsClient#stream(java.util.List, String, SubscribeOptions)} (a blocking
 * {@link io.tidings.client.EventStream}) and {@link io.tidings.client.TidingsClient#mirror(String)}
 * (a {@link io.tidings.client.Mirror} of a topic's state), over the first
 * {@link io.tidings.client.Transport} that works, with {@link io.tidings.client.Backoff full-jitter
 * backoff}, resumption from the last delivered cursor and de-duplication by offset.
 */
package io.tidings.client;
