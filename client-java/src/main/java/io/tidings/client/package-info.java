/**
 * A small Java client for the Tidings HTTP API.
 *
 * <p>Start with {@link io.tidings.client.TidingsClient#builder(java.net.URI)}. The client publishes
 * events ({@link io.tidings.client.TidingsClient#publish(String, NewEvent...)}), reads a topic's
 * whole state ({@link io.tidings.client.TidingsClient#state(String)}), pages through its changes
 * ({@link io.tidings.client.TidingsClient#changes(String, String, int)}) and lists topics
 * ({@link io.tidings.client.TidingsClient#topics(String)}). Every failure is a
 * {@link io.tidings.client.TidingsException}.
 */
package io.tidings.client;
