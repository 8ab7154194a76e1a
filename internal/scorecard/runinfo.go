package scorecard

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// RunSchema is the schema of a RunInfo file.
const RunSchema = "ptqspec.run/v1"

// RunInfo describes one run of the suite: the header of its scorecard.
// The suite writes it as JSON beside its cucumber report (RunInfoPath).
type RunInfo struct {
	Schema      string    `json:"schema"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	Tags        string    `json:"tags"`
	OrderSeed   int64     `json:"order_seed"`
	DataSeed    string    `json:"data_seed,omitempty"` // PTQSPEC_SEED, when set
	Concurrency int       `json:"concurrency"`
	GoVersion   string    `json:"go_version"`
	OS          string    `json:"os"`
	Arch        string    `json:"arch"`
	CPU         string    `json:"cpu"`
	Commit      string    `json:"commit"`
}

// RunInfoPath returns where the RunInfo of the cucumber report at path
// lives: "reports/cucumber.json" gives "reports/cucumber.run.json".
func RunInfoPath(cucumber string) string {
	return strings.TrimSuffix(cucumber, ".json") + ".run.json"
}

// CollectRunInfo returns what this process knows of its machine: Go
// version, OS, architecture, CPU model and the commit of the git work
// tree at dir ("" when dir is not one; a "+dirty" suffix when it has
// changes).
func CollectRunInfo(dir string) RunInfo {
	return RunInfo{
		Schema:    RunSchema,
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		CPU:       cpuModel(),
		Commit:    gitCommit(dir),
	}
}

// cpuModel returns the CPU's model name and count of logical CPUs.
func cpuModel() string {
	name := runtime.GOARCH
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				name = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs", name, runtime.NumCPU())
}

// gitCommit returns the short commit of the work tree at dir.
func gitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+dirty"
	}
	return c
}

// WriteRunInfo writes r as JSON to path.
func WriteRunInfo(path string, r RunInfo) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("scorecard: run info: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("scorecard: %w", err)
	}
	return nil
}

// ReadRunInfo reads the RunInfo at path and checks its schema.
func ReadRunInfo(path string) (RunInfo, error) {
	var r RunInfo
	b, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("scorecard: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("scorecard: %s: %w", path, err)
	}
	if r.Schema != RunSchema {
		return r, fmt.Errorf("scorecard: %s: schema %q, want %q", path, r.Schema, RunSchema)
	}
	return r, nil
}
