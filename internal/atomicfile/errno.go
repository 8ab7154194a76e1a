package atomicfile

import "syscall"

// errInvalid is what Sync returns on a folder of a file system that
// cannot sync folders.
var errInvalid error = syscall.EINVAL
