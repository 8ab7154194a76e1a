//go:build !unix

package memlimit

import "errors"

// setAddressSpaceLimit reports that this platform has no RLIMIT_AS.
func setAddressSpaceLimit(uint64) error { return errors.New("no RLIMIT_AS on this platform") }
