package io.tidings.core;

/**
 * One stored document of {@link Records}.
 *
 * @param space the space it belongs to
 * @param id its id inside the space
 * @param value its text (JSON by convention)
 */
public record Record(String space, String id, String value) {}
