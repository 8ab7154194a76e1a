package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The -save flag of ptq mnist and quantize: the final INT8 model (after
// any fallback) in package ptq's model file format.

// bindSave registers -save on fs.
func bindSave(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "save", "", "write the final INT8 model to FILE (ptq.LoadModelFile reads it)")
}

// checkSave refuses, before any work, a -save path whose folder does not
// exist.
func checkSave(path string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageErrorf("-save %s: folder %s does not exist", path, dir)
	}
	return nil
}

// saveModel writes the job's final model to path (nothing when path is
// empty), timed as "save_model", and says so on w.
func saveModel(path string, o *outcome, ph *phases, w io.Writer) error {
	if path == "" {
		return nil
	}
	if err := ph.step("save_model", 1, func(b *bar) error {
		b.set(0, 1) // the step hook of the interrupt test waits here
		if ph.ctx != nil && ph.ctx.Err() != nil {
			return ph.ctx.Err()
		}
		err := o.model.SaveFile(path) // atomic: the whole file or none
		if err == nil {
			b.set(1, 1)
		}
		return err
	}); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "INT8 model (%s) saved to %s: %s bytes\n", o.model.Mode(), path, thousands(int(fi.Size())))
	return nil
}

// savedSummary is the -json line of a command that may have saved its
// model: the summary and, with -save, the model file.
type savedSummary struct {
	summary
	SavedModel string `json:"saved_model,omitempty"`
}
