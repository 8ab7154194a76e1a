package scorecard

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/template"
)

// mdEscape makes s safe in a Markdown table cell.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "<br>")
}

var mdTmpl = template.Must(template.New("md").Funcs(template.FuncMap(funcs)).Parse(`# ptqspec acceptance scorecard

| run | |
|---|---|
| Run date | {{runDate .Run}} |
| Commit | {{orDash .Run.Commit}} |
| Go | {{orDash .Run.GoVersion}} {{.Run.OS}}/{{.Run.Arch}} |
| CPU | {{mdEscape (orDash .Run.CPU)}} |
| Tags | {{mdEscape (orDash .Run.Tags)}} |
| Seeds | {{seeds .Run}} |
| Scenarios | {{.Passed}} passed, {{.Failed}} failed, {{.Skipped}} skipped, {{.Total}} total |
| Criteria | {{.CriteriaTotal}} measured, {{.CriteriaFailed}} failed |
| Thresholds of the text | {{.Thresholds.InText}} in the text, {{.Thresholds.Recorded}} recorded, {{.Thresholds.Matched}} matched, {{len .Thresholds.Unchecked}} in skipped steps |
| Total time | {{dur .Duration}} ({{.OverBudget}} scenarios over budget) |

## Criteria nearest their thresholds

![criteria nearest their thresholds](acceptance_margins.svg)

| scenario | measured | threshold | value | margin | relative |
|---|---|--:|--:|--:|--:|
{{range .Tightest}}| {{if not .Pass}}**FAILED** {{end}}{{mdEscape .Scenario}} | {{mdEscape .Measured}} | {{.Direction}} {{unit .Literal .Unit}} | {{unit (num .Value) .Unit}} | {{unit (num .Margin) .Unit}} | {{rel .}} |
{{end}}
{{if or .Thresholds.Missing .Thresholds.Unexplained .Thresholds.Unchecked}}## Thresholds not checked

| feature:line | step | threshold |
|---|---|---|
{{range .Thresholds.Missing}}| {{.File}}:{{.Line}} | {{mdEscape .Step}} | {{.Literal}} (no record) |
{{end}}{{range .Thresholds.Unchecked}}| {{.File}}:{{.Line}} | {{mdEscape .Step}} | {{.Literal}} (step skipped) |
{{end}}{{range .Thresholds.Unexplained}}| {{.Feature}}:{{.Line}} | {{mdEscape .Step}} | {{numf .Threshold}} (not in the text) |
{{end}}
{{end}}## Scenarios by feature
{{range .Features}}
### {{.Name}} ({{.File}}{{if .Failed}}, {{.Failed}} failed{{end}})
{{range .Scenarios}}
#### {{if eq .Status "failed"}}FAILED{{else if eq .Status "skipped"}}skipped{{else}}passed{{end}}: {{.Name}}

line {{.Line}} · {{budget .}} · {{join .Tags " "}}
{{if .Error}}
> {{mdEscape .Error}}
{{end}}{{if .Criteria}}
| step | measured | threshold | value | margin | relative |
|---|---|--:|--:|--:|--:|
{{range .Criteria}}| {{if not .Pass}}**FAILED** {{end}}{{mdEscape .Step}} | {{mdEscape .Measured}} | {{.Direction}} {{unit .Literal .Unit}} | {{unit (num .Value) .Unit}} | {{unit (num .Margin) .Unit}} | {{rel .}} |
{{end}}{{end}}{{end}}{{end}}
## Spec coverage
{{range .Areas}}
### {{.Name}} ({{.Covered}} of {{len .Requirements}} requirements covered)

| id | requirement | scenarios |
|---|---|---|
{{range .Requirements}}| {{.ID}} | {{mdEscape .Text}} | {{range $i, $s := .Scenarios}}{{if $i}}<br>{{end}}{{$s.Feature}}:{{$s.Line}} {{mdEscape $s.Name}}{{if ne $s.Status "passed"}} ({{$s.Status}}){{end}}{{else}}**none**{{end}} |
{{end}}{{else}}
No requirements were given.
{{end}}`))

// WriteMarkdown writes the Card as Markdown with the content of the HTML
// page; the margin chart is referenced as acceptance_margins.svg.
func WriteMarkdown(w io.Writer, c *Card) error {
	var buf bytes.Buffer
	if err := mdTmpl.Execute(&buf, newView(c, nil)); err != nil {
		return fmt.Errorf("scorecard: Markdown: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
