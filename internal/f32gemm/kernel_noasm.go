//go:build noasm || !amd64

package f32gemm

// kernels lists the micro-kernels this build can run, fastest first.
func kernels() []*microKernel { return []*microKernel{goKernel} }

func bestKernel() *microKernel { return goKernel }
