package com.sesh;

/**
 * What {@link Sesh#background()} and {@link Sesh#foreground()} hand back: the
 * {@code application_background} / {@code application_foreground} event JSON and its
 * {@code client_session} entity.
 */
public final class Lifecycle {
    private final String eventJson;
    private final String entityJson;

    Lifecycle(String eventJson, String entityJson) {
        this.eventJson = eventJson;
        this.entityJson = entityJson;
    }

    /** The lifecycle event, self-describing JSON ({"schema":...,"data":{"backgroundIndex":n}}). */
    public String getEventJson() {
        return eventJson;
    }

    /** The entity, or null in manual mode outside a session (the state flipped all the same). */
    public String getEntityJson() {
        return entityJson;
    }

    @Override
    public String toString() {
        return "Lifecycle{event=" + eventJson + ", entity=" + entityJson + "}";
    }
}
