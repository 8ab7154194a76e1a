package report

import (
	"bytes"
	"html/template"
	"io"
)

// WriteHTML writes the run as one self-contained HTML page: headline
// numbers, every chart of Charts as inline SVG, the per-layer table with a
// shaded SQNR column below the reference, calibration, sensitivity and
// fallback sections when present, the traversal reasons and the timings.
// It loads nothing from elsewhere, needs no JavaScript and prints on A4 or
// Letter. The same Run always gives the same bytes.
func WriteHTML(w io.Writer, r *Run) error {
	if err := r.validate(); err != nil {
		return err
	}
	cs, err := charts(r)
	if err != nil {
		return err
	}
	return writeHTML(w, newView(r, cs))
}

// writeHTML renders a view; it writes nothing when rendering fails.
func writeHTML(w io.Writer, v *view) error {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"svg": func(v *view, name string) template.HTML {
		c, ok := v.chart(name)
		if !ok {
			return ""
		}
		// The SVG comes from vgsvg, which escapes every text it draws.
		return template.HTML(inlineSVG(c.SVG, c.Title))
	},
	"has": func(v *view, name string) bool { _, ok := v.chart(name); return ok },
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ptqspec pkg/report ({{.Schema}})">
<title>{{.Title}}</title>
<style>
:root { --ink: #222; --muted: #5f6770; --rule: #dde1e6; --soft: #f5f6f8; --low: #fcefd6; --very-low: #f8dad5; --ok: #2e7d32; --bad: #b03a2e; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif; }
main { max-width: 62rem; margin: 0 auto; padding: 2rem 1.25rem 3rem; }
h1 { font-size: 1.65rem; margin: 0 0 .2rem; }
h2 { font-size: 1.2rem; margin: 2.4rem 0 .6rem; padding-bottom: .25rem; border-bottom: 1px solid var(--rule); }
p { margin: .5rem 0; max-width: 48rem; }
.sub { color: var(--muted); margin: 0; }
.key { color: var(--muted); font-size: .83rem; }
.sub span + span::before { content: " · "; }
nav { margin: 1rem 0 0; font-size: .85rem; }
nav a { color: var(--muted); margin-right: .9rem; text-decoration: none; border-bottom: 1px solid var(--rule); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); gap: .75rem; margin: 1.25rem 0 .5rem; }
.card { border: 1px solid var(--rule); border-left: 4px solid var(--rule); border-radius: 4px; padding: .65rem .85rem; }
.card.ok { border-left-color: var(--ok); }
.card.bad { border-left-color: var(--bad); }
.card .label { font-size: .72rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.card .value { font-size: 1.15rem; font-weight: 600; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.card .detail { font-size: .83rem; color: var(--muted); }
figure { margin: 1rem 0 1.25rem; break-inside: avoid; page-break-inside: avoid; }
figure svg { display: block; width: 100%; max-width: 46rem; height: auto; }
figcaption { font-size: .83rem; color: var(--muted); max-width: 48rem; margin-top: .3rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .83rem; margin: .5rem 0; }
th, td { padding: .28rem .5rem; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { font-weight: 600; background: var(--soft); white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nw { white-space: nowrap; }
.range { display: block; color: var(--muted); font-size: .75rem; }
td.name { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: .8rem; white-space: nowrap; }
tr.muted td { color: var(--muted); }
td.low { background: var(--low); }
td.very-low { background: var(--very-low); }
.flag { font-size: .68rem; text-transform: uppercase; letter-spacing: .04em; color: var(--bad); margin-left: .3rem; }
.swatch { display: inline-block; width: .8em; height: .8em; vertical-align: -.05em; border: 1px solid var(--rule); }
.swatch.low { background: var(--low); }
.swatch.very-low { background: var(--very-low); }
.yes { color: var(--bad); font-weight: 600; }
.within { color: var(--ok); }
.over { color: var(--bad); }
details summary { cursor: pointer; color: var(--muted); font-size: .85rem; }
footer { margin-top: 3rem; color: var(--muted); font-size: .78rem; border-top: 1px solid var(--rule); padding-top: .5rem; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, .card { break-inside: avoid; page-break-inside: avoid; }
  .scroll { overflow: visible; }
  td.low, td.very-low, .swatch, .card { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
</style>
</head>
<body>
<main>
<header>
<h1>{{.Title}}</h1>
<p class="sub">{{with .Model}}<span>model {{.}}</span>{{end}}<span>{{.Mode}} quantization</span>{{with .Config}}<span>{{.}}</span>{{end}}</p>
<nav>{{range .Sections}}<a href="#{{.ID}}">{{.Title}}</a>{{end}}</nav>
</header>

<section id="summary">
<h2>Summary</h2>
<div class="cards">
{{- range .Cards}}
<div class="card{{with .Status}} {{.}}{{end}}"><div class="label">{{.Label}}</div><div class="value">{{.Value}}</div><div class="detail">{{.Detail}}</div></div>
{{- end}}
</div>
{{- range .Notes}}
<p><strong>Note:</strong> {{.}}</p>
{{- end}}
</section>

<section id="accuracy">
<h2>Accuracy</h2>
<figure>
{{svg . "accuracy"}}
<figcaption>Top-1 accuracy of the FP32 model and of the quantized model on the same data. The dashed line is the budget, FP32 accuracy minus the allowed drop; the bars start where the axis starts.</figcaption>
</figure>
</section>

<section id="layers">
<h2>Layers</h2>
{{- if has . "layer_sqnr"}}
<figure>
{{svg . "layer_sqnr"}}
<figcaption>Output SQNR of each quantized layer against the FP32 model on calibration samples, in model order; each int8 kernel is measured after the layers fused into it. Higher is better; the dashed line is the {{.SQNRRef}} reference.</figcaption>
</figure>
{{- end}}
<div class="scroll">
<table>
<thead><tr><th>layer</th><th>kind</th><th>role</th><th>weights</th><th class="num">weight scales</th><th class="num">output scale / zero point<span class="range">real range</span></th><th class="num">SQNR dB</th></tr></thead>
<tbody>
{{- range .Layers}}
<tr{{if .Muted}} class="muted"{{end}}><td class="name">{{.Name}}</td><td>{{.Kind}}</td><td class="nw">{{.Role}}</td><td>{{.Weights}}</td><td class="num">{{.Scales}}</td><td class="num">{{.Output}}{{with .Range}}<span class="range">{{.}}</span>{{end}}</td><td class="num{{with .Level}} {{.}}{{end}}">{{.SQNR}}{{if .Level}}<span class="flag">low</span>{{end}}</td></tr>
{{- end}}
</tbody>
</table>
</div>
<p class="key"><span class="swatch low"></span> SQNR below {{.SQNRRef}}, <span class="swatch very-low"></span> below {{.SQNRVeryLow}}. Greyed rows have no kernel of their own (fused into the layer before them, or run unchanged).</p>
</section>
{{- if has . "weight_scales"}}

<section id="weights">
<h2>Weight scales</h2>
<figure>
{{svg . "weight_scales"}}
<figcaption>Each bar spans the smallest to the largest per-channel scale of a layer's int8 weights (one int8 step, in real units); the tick is the mean. A wide span means channels of very different ranges, which per-channel quantization keeps apart.</figcaption>
</figure>
</section>
{{- end}}
{{- with .Calibration}}

<section id="calibration">
<h2>Calibration</h2>
<p>{{.Summary}}</p>
{{- if has $ "calibration"}}
<figure>
{{svg $ "calibration"}}
<figcaption>For each batch after the first, the largest relative change of any activation scale against the previous batch. Calibration is converged (shaded) once it stays at or under the tolerance (dashed) for the patience, and loses it at a batch above the tolerance.</figcaption>
</figure>
{{- end}}
<details>
<summary>Calibration history ({{len .History}} batches)</summary>
<table>
<thead><tr><th class="num">batch</th><th class="num">samples</th><th class="num">max scale change</th><th>on tensor</th><th>converged</th></tr></thead>
<tbody>
{{- range .History}}
<tr><td class="num">{{.Batch}}</td><td class="num">{{.Samples}}</td><td class="num">{{.Change}}</td><td class="name">{{.Worst}}</td><td>{{.State}}</td></tr>
{{- end}}
</tbody>
</table>
</details>
</section>
{{- end}}
{{- with .Sensitivity}}

<section id="sensitivity">
<h2>Sensitivity</h2>
<p>Per layer, the {{.Metric}} when only that layer is int8 (its drop against FP32) and when only that layer stays FP32 (its recovery against all int8), on {{.Samples}} selection samples{{with .Selection}} ({{.}}){{end}}. FP32 {{.FP32}}, all int8 {{.AllInt8}}, threshold {{.Threshold}}.{{with .Sensitive}} Sensitive: {{.}}.{{end}}</p>
{{- if has $ "sensitivity"}}
<figure>
{{svg $ "sensitivity"}}
<figcaption>Layers in rank order, most sensitive first. A layer is sensitive when its drop or its recovery reaches the threshold (dashed).</figcaption>
</figure>
{{- end}}
<div class="scroll">
<table>
<thead><tr><th class="num">rank</th><th>layer</th><th>kind</th><th class="num">only this int8</th><th class="num">only this FP32</th><th class="num">drop</th><th class="num">recovery</th><th class="num">SQNR dB</th><th>sensitive</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td class="num">{{.Rank}}</td><td class="name">{{.Layer}}</td><td>{{.Kind}}</td><td class="num">{{.OnlyInt8}}</td><td class="num">{{.OnlyFP32}}</td><td class="num">{{.Drop}}</td><td class="num">{{.Recovery}}</td><td class="num{{with .Level}} {{.}}{{end}}">{{.SQNR}}{{if .Level}}<span class="flag">low</span>{{end}}</td><td>{{if .Sensitive}}<span class="yes">yes</span>{{end}}</td></tr>
{{- end}}
</tbody>
</table>
</div>
</section>
{{- end}}
{{- with .Fallback}}

<section id="fallback">
<h2>Fallback</h2>
<p>{{if gt (len .Steps) 1}}Layers were reverted to FP32 one at a time, most recovering first, until the {{.Metric}} drop fit the {{.Budget}} budget{{else}}The all-int8 model was checked against the {{.Budget}} budget on {{.Metric}}; no layer was reverted{{end}}, on the selection samples{{with .Selection}} ({{.}}){{end}}: FP32 {{.FP32}}, all int8 {{.AllInt8}}, final {{.Final}}, budget {{if .Met}}met{{else}}<strong>not met</strong>{{end}}.</p>
{{- if has $ "fallback"}}
<figure>
{{svg $ "fallback"}}
<figcaption>The {{.Metric}} after each step, starting from the all-int8 model, against FP32 (solid) and the budget (dashed).</figcaption>
</figure>
{{- end}}
<table>
<thead><tr><th class="num">step</th><th>reverted to FP32</th><th class="num">{{.Metric}}</th><th class="num">drop</th><th>budget</th></tr></thead>
<tbody>
{{- range .Steps}}
<tr><td class="num">{{.Step}}</td>{{if .Layer}}<td class="name">{{.Layer}}</td>{{else}}<td>none (all layers int8)</td>{{end}}<td class="num">{{.Value}}</td><td class="num">{{.Drop}}</td><td>{{if .Within}}<span class="within">within</span>{{else}}<span class="over">over</span>{{end}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}

<section id="traversal">
<h2>Traversal</h2>
<p>What the traversal decided for every node of the model, and why.</p>
<div class="scroll">
<table>
<thead><tr><th>node</th><th>kind</th><th>role</th><th>reason</th><th>fused</th>{{if .HasOverrides}}<th>overrides</th>{{end}}</tr></thead>
<tbody>
{{- range .Traversal}}
<tr><td class="name">{{.Name}}</td><td>{{.Kind}}</td><td class="nw">{{.Role}}</td><td>{{.Reason}}</td><td>{{.Fused}}</td>{{if $.HasOverrides}}<td>{{.Overrides}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</div>
</section>
{{- if .Timings}}

<section id="timings">
<h2>Timings</h2>
<table style="width:auto">
<thead><tr><th>phase</th><th class="num">wall clock</th></tr></thead>
<tbody>
{{- range .Timings}}
<tr><td>{{.Phase}}</td><td class="num">{{.Duration}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}

<footer>Generated by ptqspec pkg/report. Machine-readable data: report.json ({{.Schema}}).</footer>
</main>
</body>
</html>
`
