package mutate

// Faults is the fixed list `make mutate` applies, one at a time. Each must
// be caught by at least one @fast scenario. Keep Old exact: when the code
// it faults changes, the fault stops applying and `make mutate` (and this
// package's tests) fail until the entry is brought in step.
var Faults = []Fault{
	{
		ID:   "round-ties-away",
		File: "pkg/quant/arith.go",
		Old:  "return float32(math.RoundToEven(float64(x)))",
		New:  "return float32(math.Round(float64(x)))",
		Desc: "ties round away from zero (2.5 -> 3) instead of half to even (2.5 -> 2)",
	},
	{
		ID:   "perchannel-global-range",
		File: "pkg/quant/qparams.go",
		Old:  "s, z, err := ChooseQParams(minVals[c], maxVals[c], spec)",
		New:  "s, z, err := ChooseQParams(slices.Min(minVals), slices.Max(maxVals), spec)",
		Desc: "per-channel qparams all come from one global range over every channel",
	},
	{
		ID:   "minmax-first-batch",
		File: "pkg/quant/ranges.go",
		Old:  "case r.averaging == 0:\n\t\tfor c := range lo {",
		New:  "case r.averaging == 0:\n\t\tfor c := range lo[:0] {",
		Desc: "MinMax keeps the range of the first batch only",
	},
	{
		ID:   "linear-left-fp32",
		File: "pkg/ptq/convert.go",
		Old:  "\trelu := false\n\tvar bn *nn.BatchNorm2D\n",
		New:  "\tif np.Kind == \"Linear\" {\n\t\ts.runFP32(n.Layer.Clone())\n\t\treturn nil\n\t}\n\trelu := false\n\tvar bn *nn.BatchNorm2D\n",
		Desc: "the converter leaves every Linear layer in FP32 (its output is still quantized on exit)",
	},
	{
		ID:   "zero-point-off-by-one",
		File: "pkg/quant/qparams.go",
		Old:  "zeroPoint = Saturate(qmin-int32(RoundHalfEven(minNeg/scale)), qmin, qmax)",
		New:  "zeroPoint = Saturate(qmin+1-int32(RoundHalfEven(minNeg/scale)), qmin, qmax)",
		Desc: "affine zero point one code too high",
	},
	{
		ID:   "requant-multiplier-1pct",
		File: "pkg/quant/requant.go",
		Old:  "return float32(float32(inScale*wScale) / outScale)",
		New:  "return float32(float32(inScale*wScale) / outScale * 1.01)",
		Desc: "requantization multiplier 1% too large",
	},
	{
		ID:   "symmetric-int8-zero-point",
		File: "pkg/quant/qparams.go",
		Old:  "\t\t\tzeroPoint = (qmin + qmax + 1) / 2\n\t\t}\n",
		New:  "\t\t\tzeroPoint = (qmin + qmax + 1) / 2\n\t\t} else {\n\t\t\tzeroPoint = Saturate(-int32(RoundHalfEven((minNeg+maxPos)/2/scale)), qmin, qmax)\n\t\t}\n",
		Desc: "symmetric int8 gets a zero point at the centre of the range instead of 0",
	},
	{
		ID:   "saturation-missing",
		File: "pkg/quant/arith.go",
		Old:  "return Saturate(int32(r)+zeroPoint, qmin, qmax)",
		New:  "return int32(r) + zeroPoint",
		Desc: "quantizing a value does not saturate to the type's range (codes wrap around)",
	},
	{
		ID:   "restricted-range-ignored",
		File: "pkg/quant/scheme.go",
		Old:  "if s.Restricted {\n\t\t\tqmin++\n\t\t}",
		New:  "if s.Restricted {\n\t\t}",
		Desc: "restricted int8 weights use [-128, 127] instead of [-127, 127]",
	},
	{
		ID:   "perchannel-axis-1",
		File: "pkg/quant/scheme.go",
		Old:  "Granularity: PerChannel, Axis: 0, Restricted: true}",
		New:  "Granularity: PerChannel, Axis: 1, Restricted: true}",
		Desc: "default per-channel weights take one scale per input channel (axis 1) instead of per output channel",
	},
	{
		ID:   "bias-weight-scale-only",
		File: "pkg/quant/requant.go",
		Old:  "scale := float32(inScale * ws)",
		New:  "scale := ws",
		Desc: "bias quantized with the weight scale alone instead of input scale times weight scale",
	},
	{
		ID:   "percentile-uses-max",
		File: "pkg/quant/percentile.go",
		Old:  "cut := (1 - frac) / 2",
		New:  "cut := (1 - frac) / 2 * 0",
		Desc: "affine percentile calibration keeps the full min..max range (clips nothing)",
	},
	{
		ID:   "fused-relu-dropped",
		File: "pkg/ptq/convert.go",
		Old:  "case *nn.ReLU:\n\t\t\trelu = true",
		New:  "case *nn.ReLU:\n\t\t\trelu = false",
		Desc: "a ReLU fused into the preceding Linear/Conv2D is not applied by the int8 kernel",
	},
}
