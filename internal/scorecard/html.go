package scorecard

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// view is what the templates of the HTML page and the Markdown file read.
type view struct {
	*Card
	Chart template.HTML // inline SVG of the margin chart
	Areas []areaView
}

// areaView is one spec area of the coverage section.
type areaView struct {
	Name         string
	Requirements []Coverage
	Covered      int
}

func newView(c *Card, svg []byte) view {
	v := view{Card: c}
	if len(svg) > 0 {
		s := string(svg)
		if i := strings.Index(s, "<svg"); i >= 0 {
			s = s[i:]
		}
		s = strings.Replace(s, "<svg ", `<svg role="img" aria-label="criteria nearest their thresholds" `, 1)
		v.Chart = template.HTML(s) // drawn by MarginChart from escaped text
	}
	for _, r := range c.Coverage {
		if len(v.Areas) == 0 || v.Areas[len(v.Areas)-1].Name != r.Area {
			v.Areas = append(v.Areas, areaView{Name: r.Area})
		}
		a := &v.Areas[len(v.Areas)-1]
		a.Requirements = append(a.Requirements, r)
		if len(r.Scenarios) > 0 {
			a.Covered++
		}
	}
	return v
}

var funcs = template.FuncMap{
	"num":      num,
	"numf":     numf,
	"unit":     withUnit,
	"rel":      relative,
	"dur":      dur,
	"budget":   budget,
	"orDash":   orDash,
	"runDate":  runDate,
	"seeds":    seeds,
	"join":     strings.Join,
	"tight":    func(r Row) bool { return r.Pass && r.HasRelative && r.Relative < TightMargin },
	"inc":      func(i int) int { return i + 1 },
	"mdEscape": mdEscape,
}

var pageTmpl = template.Must(template.New("page").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ptqspec acceptance scorecard</title>
<style>
*{box-sizing:border-box}
body{margin:0;padding:24px;font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;color:#222;background:#f6f7f9}
main{max-width:1180px;margin:0 auto}
h1{font-size:22px;margin:0 0 12px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #d5d9de;padding-bottom:4px}
h3{font-size:15px;margin:0;overflow-wrap:anywhere}
.meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:6px 24px;background:#fff;border:1px solid #d5d9de;border-radius:6px;padding:12px 16px}
.meta div{min-width:0;overflow-wrap:anywhere}
.meta b{display:inline-block;min-width:90px;color:#555;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:16px 0}
.card{background:#fff;border:1px solid #d5d9de;border-radius:6px;padding:10px 14px;min-width:0}
.card .v{font-size:22px;font-weight:600;overflow-wrap:anywhere}
.card .k{color:#555;font-size:12px}
.bad{color:#b03a2e}.good{color:#2e7d32}.warn{color:#9a6400}
.scn{background:#fff;border:1px solid #d5d9de;border-radius:6px;padding:10px 14px;margin:10px 0}
.scn.failed{border-left:5px solid #c0392b}.scn.passed{border-left:5px solid #2e7d32}.scn.skipped{border-left:5px solid #a3abb5}
.scn .head{display:flex;flex-wrap:wrap;gap:4px 12px;align-items:baseline}
.badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;color:#fff;background:#2e7d32}
.badge.failed{background:#c0392b}.badge.skipped{background:#7a828c}.badge.over{background:#9a6400}
.tags{color:#666;font-size:12px;overflow-wrap:anywhere}
.err{white-space:pre-wrap;overflow-wrap:anywhere;background:#fbeeec;border-radius:4px;padding:6px 8px;font:12px/1.4 ui-monospace,"Liberation Mono",monospace;margin:6px 0}
table{width:100%;border-collapse:collapse;table-layout:fixed;margin:6px 0;background:#fff}
th,td{border-bottom:1px solid #e3e6ea;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{font-size:12px;color:#555;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.fail td{background:#fbeeec}tr.tight td{background:#fdf5e6}
.chart{background:#fff;border:1px solid #d5d9de;border-radius:6px;padding:8px;overflow:hidden}
.chart svg{display:block;width:100%;height:auto}
.muted{color:#666}
</style>
</head>
<body>
<main>
<h1>ptqspec acceptance scorecard</h1>
<div class="meta">
<div><b>Run date</b> {{runDate .Run}}</div>
<div><b>Commit</b> {{orDash .Run.Commit}}</div>
<div><b>Go</b> {{orDash .Run.GoVersion}} {{.Run.OS}}/{{.Run.Arch}}</div>
<div><b>CPU</b> {{orDash .Run.CPU}}</div>
<div><b>Tags</b> {{orDash .Run.Tags}}</div>
<div><b>Seeds</b> {{seeds .Run}}</div>
</div>
<div class="cards">
<div class="card"><div class="v {{if .Failed}}bad{{else}}good{{end}}">{{.Passed}} / {{.Total}}</div><div class="k">scenarios passed ({{.Failed}} failed, {{.Skipped}} skipped)</div></div>
<div class="card"><div class="v {{if .CriteriaFailed}}bad{{else}}good{{end}}">{{.CriteriaTotal}}</div><div class="k">criteria measured ({{.CriteriaFailed}} failed)</div></div>
<div class="card"><div class="v {{if or .Thresholds.Missing .Thresholds.Unexplained .Thresholds.Unchecked}}bad{{else}}good{{end}}">{{.Thresholds.Matched}} / {{.Thresholds.InText}}</div><div class="k">thresholds of the text checked ({{.Thresholds.Recorded}} records{{with .Thresholds.Unchecked}}, {{len .}} skipped{{end}})</div></div>
<div class="card"><div class="v">{{dur .Duration}}</div><div class="k">total scenario time</div></div>
<div class="card"><div class="v {{if .OverBudget}}warn{{else}}good{{end}}">{{.OverBudget}}</div><div class="k">scenarios over their time budget</div></div>
</div>

<h2>Criteria nearest their thresholds</h2>
{{if .Chart}}<div class="chart">{{.Chart}}</div>{{end}}
<table>
<colgroup><col style="width:22%"><col style="width:30%"><col style="width:12%"><col style="width:12%"><col style="width:12%"><col style="width:12%"></colgroup>
<tr><th>scenario</th><th>measured</th><th class="n">threshold</th><th class="n">value</th><th class="n">margin</th><th class="n">relative</th></tr>
{{range .Tightest}}<tr class="{{if not .Pass}}fail{{else if tight .}}tight{{end}}"><td>{{.Scenario}}</td><td>{{.Measured}}</td><td class="n">{{.Direction}} {{unit .Literal .Unit}}</td><td class="n">{{unit (num .Value) .Unit}}</td><td class="n">{{unit (num .Margin) .Unit}}</td><td class="n">{{rel .}}</td></tr>
{{else}}<tr><td colspan="6" class="muted">no criterion recorded</td></tr>{{end}}
</table>

{{if or .Thresholds.Missing .Thresholds.Unexplained .Thresholds.Unchecked}}<h2 class="bad">Thresholds not checked</h2>
<table><colgroup><col style="width:25%"><col style="width:55%"><col style="width:20%"></colgroup>
<tr><th>feature:line</th><th>step</th><th>threshold</th></tr>
{{range .Thresholds.Missing}}<tr class="fail"><td>{{.File}}:{{.Line}}</td><td>{{.Step}}</td><td>{{.Literal}} (no record)</td></tr>{{end}}
{{range .Thresholds.Unchecked}}<tr class="tight"><td>{{.File}}:{{.Line}}</td><td>{{.Step}}</td><td>{{.Literal}} (step skipped)</td></tr>{{end}}
{{range .Thresholds.Unexplained}}<tr class="fail"><td>{{.Feature}}:{{.Line}}</td><td>{{.Step}}</td><td>{{numf .Threshold}} (not in the text)</td></tr>{{end}}
</table>{{end}}

<h2>Scenarios by feature</h2>
{{range .Features}}<h2>{{.Name}} <span class="muted">({{.File}}{{if .Failed}}, <span class="bad">{{.Failed}} failed</span>{{end}})</span></h2>
{{range .Scenarios}}<div class="scn {{.Status}}">
<div class="head"><span class="badge {{.Status}}">{{.Status}}</span><h3>{{.Name}}</h3><span class="muted">line {{.Line}} · {{budget .}}</span>{{if .OverBudget}}<span class="badge over">over budget</span>{{end}}</div>
<div class="tags">{{join .Tags " "}}</div>
{{if .Error}}<div class="err">{{.Error}}</div>{{end}}
{{if .Criteria}}<table>
<colgroup><col style="width:34%"><col style="width:24%"><col style="width:13%"><col style="width:11%"><col style="width:10%"><col style="width:8%"></colgroup>
<tr><th>step</th><th>measured</th><th class="n">threshold</th><th class="n">value</th><th class="n">margin</th><th class="n">relative</th></tr>
{{range .Criteria}}<tr class="{{if not .Pass}}fail{{else if tight .}}tight{{end}}"><td>{{.Step}}</td><td>{{.Measured}}</td><td class="n">{{.Direction}} {{unit .Literal .Unit}}</td><td class="n">{{unit (num .Value) .Unit}}</td><td class="n">{{unit (num .Margin) .Unit}}</td><td class="n">{{rel .}}</td></tr>
{{end}}</table>{{end}}
</div>
{{end}}{{end}}

<h2>Spec coverage</h2>
{{range .Areas}}<h3>{{.Name}} <span class="muted">({{.Covered}} of {{len .Requirements}} requirements covered)</span></h3>
<table><colgroup><col style="width:12%"><col style="width:43%"><col style="width:45%"></colgroup>
<tr><th>id</th><th>requirement</th><th>scenarios</th></tr>
{{range .Requirements}}<tr{{if not .Scenarios}} class="fail"{{end}}><td>{{.ID}}</td><td>{{.Text}}</td><td>{{range $i, $s := .Scenarios}}{{if $i}}<br>{{end}}<span class="{{if eq $s.Status "failed"}}bad{{else if eq $s.Status "not run"}}muted{{end}}">{{$s.Feature}}:{{$s.Line}} {{$s.Name}}{{if ne $s.Status "passed"}} ({{$s.Status}}){{end}}</span>{{else}}<b class="bad">none</b>{{end}}</td></tr>
{{end}}</table>
{{else}}<p class="muted">No requirements were given.</p>{{end}}
</main>
</body>
</html>
`))

// WriteHTML writes the Card as one self-contained HTML page; svg is the
// margin chart (MarginChart), inlined.
func WriteHTML(w io.Writer, c *Card, svg []byte) error {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, newView(c, svg)); err != nil {
		return fmt.Errorf("scorecard: HTML page: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
