package com.sesh;

/** The entity's {@code storageMechanism} a custom store may declare. */
public enum StorageMechanism {
    LOCAL_STORAGE(0),
    SQLITE(1),
    COOKIE_1(2),
    COOKIE_3(3),
    FLASH_LSO(4);

    final int code;

    StorageMechanism(int code) {
        this.code = code;
    }
}
