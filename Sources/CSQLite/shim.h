#include <sqlite3.h>

/// sqlite3_db_config is variadic, which Swift cannot call: the one option swctr sets through it.
static inline int swctr_sqlite3_set_no_checkpoint_on_close(sqlite3 *db, int on) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, on, (int *)0);
}
