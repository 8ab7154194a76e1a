package scorecard_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ptqspec/ptqspec/internal/scorecard"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/ptq"
	"github.com/ptqspec/ptqspec/pkg/report"
)

// chromiumPath is Debian's chromium, installed by `make chromium`.
const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where the browser test leaves its PNGs, from the
// repository root.
const screenshotDir = "../../reports/screenshots"

// viewportWidth is the width the pages must fit.
const viewportWidth = 1280

// inspectJS lists what is wrong with the page as the browser lays it out:
// content wider than the viewport, an element whose content overflows its
// box (scrollWidth > clientWidth), an image that did not load
// (naturalWidth 0) and an SVG drawn with no area.
const inspectJS = `(() => {
  const out = [];
  const vw = window.innerWidth;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.classList && el.classList.length) s += "." + Array.from(el.classList).join(".");
    const text = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
    return text ? s + " \"" + text + "\"" : s;
  };
  if (document.documentElement.scrollWidth > vw) {
    out.push("the page is " + document.documentElement.scrollWidth + " px wide, the viewport " + vw + " px");
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") continue;
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1) {
      out.push(name(el) + " reaches " + Math.round(r.right) + " px, past the " + vw + " px viewport");
    }
    const st = getComputedStyle(el);
    if (st.display !== "inline" && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      out.push(name(el) + " overflows its box: content " + el.scrollWidth + " px in " + el.clientWidth + " px");
    }
  }
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) out.push("image " + (img.getAttribute("src") || "").slice(0, 80) + " did not render");
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (svg.parentElement && svg.parentElement.closest("svg")) continue;
    const r = svg.getBoundingClientRect();
    let bb = {width: 0, height: 0};
    try { bb = svg.getBBox(); } catch (e) {}
    if (r.width === 0 || r.height === 0 || bb.width === 0 || bb.height === 0) {
      out.push("svg " + (svg.getAttribute("aria-label") || "") + " renders with no area");
    }
  }
  return out;
})()`

// newBrowser starts headless Chromium with a fresh profile, at 1280 px,
// and returns its context; it ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Debian's chromium at %s: run `make chromium` (%v)", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(viewportWidth, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// browserCheck opens the HTML file at path in a new tab of browser at
// 1280 px, saves a full-page PNG to png (when not empty) and returns every
// problem it finds: console errors and uncaught exceptions, and what
// inspectJS reports.
func browserCheck(t *testing.T, browser context.Context, path, png string) []string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := chromedp.NewContext(browser)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	var problems []string
	note := func(p string) {
		mu.Lock()
		problems = append(problems, p)
		mu.Unlock()
	}
	consoleError := func(e *runtime.EventConsoleAPICalled) {
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var args []string
		for _, a := range e.Args {
			args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
		}
		note("console error: " + strings.Join(args, " "))
	}
	err = chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			consoleError(e)
		case runtime.EventConsoleAPICalled:
			consoleError(&e)
		case *runtime.EventExceptionThrown:
			note("uncaught exception: " + e.ExceptionDetails.Text)
		case runtime.EventExceptionThrown:
			note("uncaught exception: " + e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				note("console error: " + e.Entry.Text + " " + e.Entry.URL)
			}
		case log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				note("console error: " + e.Entry.Text + " " + e.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(viewportWidth, 900),
		chromedp.Navigate("file://"+abs),
		chromedp.WaitReady("body"),
		chromedp.Sleep(300*time.Millisecond),
	); err != nil {
		t.Fatalf("chromium on %s: %v", path, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](inspectJS))
	if err != nil {
		t.Fatalf("chromium on %s: inspecting the page: %v", path, err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium on %s: screenshot: %v", path, err)
	}
	if png != "" {
		if err := os.MkdirAll(filepath.Dir(png), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(png, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d bytes)", png, len(shot))
	}
	mu.Lock()
	defer mu.Unlock()
	return append(problems, found...)
}

// fixtureCard renders the scorecard of testdata/cucumber.json, a run of
// the two feature files in testdata/features (one threshold raised to
// fail), into dir.
func fixtureCard(t *testing.T, dir string) *scorecard.Card {
	t.Helper()
	feats, err := scorecard.ReadCucumberFile("testdata/cucumber.json")
	if err != nil {
		t.Fatal(err)
	}
	text, err := scorecard.LoadFeatures("testdata/features")
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := scorecard.ParseRequirementsFile("../../features/README.md")
	if err != nil {
		t.Fatal(err)
	}
	run := scorecard.RunInfo{Schema: scorecard.RunSchema, Started: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC),
		Tags: "~@slow", OrderSeed: 0, GoVersion: "go1.26", OS: "linux", Arch: "amd64", CPU: "fixture CPU, 2 logical CPUs", Commit: "0123456789ab"}
	card := scorecard.Build(feats, text, reqs, run)
	if _, err := scorecard.WriteFiles(dir, card); err != nil {
		t.Fatal(err)
	}
	return card
}

// mnistLikeReport writes the report.html of a small quantization run
// with the sizes and accuracies of `ptq mnist` on the MLP, into dir.
func mnistLikeReport(t *testing.T, dir string) string {
	t.Helper()
	g, err := models.MLP(1, 32)
	if err != nil {
		t.Fatal(err)
	}
	calib := ptq.BatchesOf(datasets.Gaussian(64, g.InputShape(), 0, 1, 3).X, 32)
	_, rep, err := ptq.Quantize(context.Background(), g, calib, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := &report.Run{Title: "MNIST mlp", Model: "mlp", Config: "default", FP32Accuracy: 0.9786, Int8Accuracy: 0.9779,
		FP32Bytes: 814080, Int8Bytes: 206438, Quant: rep, Timings: map[string]float64{"train": 41.2, "calibrate": 0.2, "evaluate": 1.4}}
	if _, err := report.WriteAll(dir, run); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "report.html")
}

// TestPagesRenderInChromium opens the scorecard page and a `ptq mnist`
// report page in headless Chromium at 1280 px, saves a PNG of each under
// reports/screenshots, and fails on a console error, an image or SVG that
// does not render, and content wider than the viewport or its box.
func TestPagesRenderInChromium(t *testing.T) {
	browser := newBrowser(t)
	dir := t.TempDir()
	fixtureCard(t, dir)
	pages := []struct{ name, path, png string }{
		{"scorecard", filepath.Join(dir, scorecard.HTMLFile), filepath.Join(screenshotDir, "acceptance.png")},
		{"mnist report", mnistLikeReport(t, filepath.Join(dir, "report")), filepath.Join(screenshotDir, "mnist_report.png")},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			for _, pr := range browserCheck(t, browser, p.path, p.png) {
				t.Error(pr)
			}
		})
	}
	t.Run("the check catches defects", func(t *testing.T) { checkCatchesDefects(t, browser) })
}

// checkCatchesDefects shows that the browser check fails on what it is
// there to catch: a card whose text runs past its edge (as the `ptq mnist`
// report's "Model size" card did), an image that does not load, an empty
// SVG, content wider than the viewport and a console error.
func checkCatchesDefects(t *testing.T, browser context.Context) {
	page := `<!DOCTYPE html><html><head><meta charset="utf-8"><style>
.card{width:120px;border:1px solid #999}.value{white-space:nowrap}</style></head><body>
<div class="card"><div class="value">795.0 KiB → 201.6 KiB and more</div></div>
<img src="missing-` + fmt.Sprint(rand.Uint32()) + `.png" alt="missing">
<svg width="0" height="0" aria-label="empty"></svg>
<div style="width:1500px">wide</div>
<script>console.error("boom")</script>
</body></html>`
	path := filepath.Join(t.TempDir(), "bad.html")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(browserCheck(t, browser, path, ""), "\n")
	for _, want := range []string{"div.value \"795.0 KiB → 201.6 KiB and more\" overflows its box", "did not render", "svg empty renders with no area", "past the 1280 px viewport", "console error: boom"} {
		if !strings.Contains(got, want) {
			t.Errorf("the check did not report %q; it reported:\n%s", want, got)
		}
	}
}

// TestChromiumIsDebians checks the browser the test drives is the one
// `make chromium` installs.
func TestChromiumIsDebians(t *testing.T) {
	out, err := exec.Command(chromiumPath, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v: %s; run `make chromium`", chromiumPath, err, out)
	}
	if !strings.Contains(string(out), "Chromium") {
		t.Fatalf("%s --version says %q", chromiumPath, out)
	}
}
