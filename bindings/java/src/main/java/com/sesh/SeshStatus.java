package com.sesh;

/**
 * What a sesh call did: the library's {@code SeshStatus} values, with the names
 * {@code sesh-replay} prints. Values are stable; the library may add new ones, which show up
 * here as {@link #UNKNOWN} (the exception still carries the code and the library's name).
 */
public enum SeshStatus {
    OK(0, "ok"),
    NO_SESSION(1, "no_session"),
    INVALID_ARGUMENT(2, "invalid_argument"),
    NULL_ARGUMENT(3, "null_argument"),
    INVALID_UTF8(4, "invalid_utf8"),
    CLOSED(5, "closed"),
    STORE_ERROR(6, "store_error"),
    CORRUPT_STATE(7, "corrupt_state"),
    CALLBACK_ERROR(8, "callback_error"),
    UNSUPPORTED(9, "unsupported"),
    PANIC(10, "panic"),
    /** A code this version of the binding does not know. */
    UNKNOWN(-1, "unknown");

    private final int code;
    private final String statusName;

    SeshStatus(int code, String statusName) {
        this.code = code;
        this.statusName = statusName;
    }

    /** The C enum's value. */
    public int code() {
        return code;
    }

    /** The status's name as sesh spells it ("invalid_argument"). */
    public String statusName() {
        return statusName;
    }

    /** The status with this code, or {@link #UNKNOWN}. */
    public static SeshStatus fromCode(int code) {
        for (SeshStatus status : values()) {
            if (status.code == code) {
                return status;
            }
        }
        return UNKNOWN;
    }
}
