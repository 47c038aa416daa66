#include "CSQLiteTuning.h"
#include <sqlite3.h>

int pal_sqlite_memstatus_off(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
