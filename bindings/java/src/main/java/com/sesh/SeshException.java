package com.sesh;

/**
 * A sesh call failed. Carries the library's status (code and name) and its message. Unchecked,
 * so Kotlin and Java callers alike catch it only where they want to.
 *
 * <p>The message comes from the handle's last error; when several threads fail on one handle
 * at the same instant, it may describe another thread's failure (the status is always this
 * call's own).
 */
public class SeshException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;
    private final String statusName;
    private final String detail;

    /** Made by the JNI glue, and by {@link Sesh} for calls on a handle already freed. */
    public SeshException(int code, String statusName, String detail) {
        super(statusName + ": " + detail);
        this.code = code;
        this.statusName = statusName;
        this.detail = detail;
    }

    /** The status, or {@link SeshStatus#UNKNOWN} for a code newer than this binding. */
    public SeshStatus getStatus() {
        return SeshStatus.fromCode(code);
    }

    /** The status's numeric value (the C enum's). */
    public int getCode() {
        return code;
    }

    /** The status's name as the library spells it: "invalid_argument", "closed", ... */
    public String getStatusName() {
        return statusName;
    }

    /** The library's message, without the status name in front. */
    public String getDetail() {
        return detail;
    }
}
