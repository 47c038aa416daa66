// The header's function is static inline; SwiftPM needs one source file to build the target.
#include "CPrefetch.h"
