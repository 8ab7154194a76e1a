package cpu

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestHasAVX2AgreesWithLinux compares the detection with the flags Linux
// reports in /proc/cpuinfo, which list avx2 only when the kernel saves the
// YMM state. Builds without the CPUID routine must report false.
func TestHasAVX2AgreesWithLinux(t *testing.T) {
	if !asmBuild {
		if HasAVX2 || HasAVX512VNNI {
			t.Fatal("HasAVX2 or HasAVX512VNNI is set in a build without assembly")
		}
		return
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		// Not Linux: CPUID ran without panicking, which is all we can check.
		t.Logf("no /proc/cpuinfo (%v); HasAVX2 = %v", err, HasAVX2)
		return
	}
	var flags []string
	for line := range strings.Lines(string(info)) {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "flags" {
			flags = strings.Fields(value)
			break
		}
	}
	if want := slices.Contains(flags, "avx2"); HasAVX2 != want {
		t.Fatalf("HasAVX2 = %v, /proc/cpuinfo lists avx2: %v", HasAVX2, want)
	}
	want := true
	for _, f := range []string{"avx512f", "avx512bw", "avx512vl", "avx512_vnni"} {
		want = want && slices.Contains(flags, f)
	}
	if HasAVX512VNNI != want {
		t.Fatalf("HasAVX512VNNI = %v, /proc/cpuinfo lists avx512f, avx512bw, avx512vl and avx512_vnni: %v", HasAVX512VNNI, want)
	}
}
