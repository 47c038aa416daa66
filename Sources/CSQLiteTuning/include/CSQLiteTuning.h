#ifndef CSQLITETUNING_H
#define CSQLITETUNING_H

/// Turns off SQLite's memory statistics for the whole process (sqlite3_config is variadic, which Swift cannot call).
/// With them on, the default in Debian's build, every SQLite allocation and free takes a global mutex. Works only
/// before SQLite initialises (the first connection opened); returns 0 then, an SQLite error code after.
int pal_sqlite_memstatus_off(void);

#endif
