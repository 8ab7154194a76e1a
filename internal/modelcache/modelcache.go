package modelcache

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ptqspec/ptqspec/internal/atomicfile"
	"github.com/ptqspec/ptqspec/pkg/datasets"
	"github.com/ptqspec/ptqspec/pkg/models"
	"github.com/ptqspec/ptqspec/pkg/nn"
)

// FormatVersion is part of every cache key. Bump it whenever the training
// data, the training code (pkg/nn's Fit) or the model file format changes,
// so stale entries are never reused; initial weights and training settings
// are covered by the key's fingerprint.
const FormatVersion = 2

// DirEnv names the environment variable that overrides the cache folder.
const DirEnv = "PTQSPEC_CACHE"

// modulePath identifies the ptqspec go.mod when looking for the repository
// root.
const modulePath = "github.com/ptqspec/ptqspec"

// evalBatch is the batch size of the test-set evaluation.
const evalBatch = 500

// ErrInvalidRequest reports a model name, seed or epoch count that cannot be
// trained.
var ErrInvalidRequest = errors.New("modelcache: invalid request")

// EpochInfo summarizes one training epoch.
type EpochInfo struct {
	Epoch           int     `json:"epoch"`
	Loss            float64 `json:"loss"`
	Accuracy        float64 `json:"accuracy"` // training accuracy, fraction
	Seconds         float64 `json:"seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
}

// TrainInfo describes how a model was trained and how well it does.
type TrainInfo struct {
	Key             string      `json:"key"` // the cache key, see Key
	Model           string      `json:"model"`
	Seed            uint64      `json:"seed"`
	Epochs          int         `json:"epochs"`
	FormatVersion   int         `json:"format_version"`
	TrainImages     int         `json:"train_images"`
	Recipe          string      `json:"recipe"` // the training settings
	Params          int         `json:"params"`
	TrainSeconds    float64     `json:"train_seconds"`
	ImagesPerSecond float64     `json:"images_per_second"` // training throughput
	TestAccuracy    float64     `json:"test_accuracy"`     // fraction of the 10,000 test images
	TestLoss        float64     `json:"test_loss"`
	EpochStats      []EpochInfo `json:"epoch_stats"`
	// Cached reports that Get loaded the model instead of training it.
	Cached bool `json:"-"`
	// Path is the cached model file, when there is one.
	Path string `json:"-"`
}

// Options adjust Train.
type Options struct {
	// Limit, if positive, trains on the first Limit training images only.
	Limit int
	// Log, if non-nil, is called after each epoch.
	Log func(EpochInfo)
	// Batch, if non-nil, is called after each training batch with the
	// batches done and the total (nn.TrainConfig.Batch); a non-nil error
	// stops the training, and Train returns it wrapped.
	Batch func(done, total int) error
}

// Key returns the cache key of a model: its name, seed, epochs,
// FormatVersion and a fingerprint of its initial weights and training
// recipe, such as "mlp-s1-e3-v2-6c1f0a3b". The fingerprint changes when
// pkg/models changes the architecture or initialisation or the recipe
// changes, so an entry is never reused for a model it does not describe.
func Key(name string, seed uint64, epochs int) (string, error) {
	if epochs <= 0 {
		return "", fmt.Errorf("%w: %d epochs, want > 0", ErrInvalidRequest, epochs)
	}
	g, err := models.ByName(name, seed)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	h := fnv.New32a()
	if err := nn.Save(h, g); err != nil {
		return "", fmt.Errorf("modelcache: fingerprint of %s: %w", name, err)
	}
	fmt.Fprint(h, describeRecipe(recipe(name, seed, epochs, nil)))
	return fmt.Sprintf("%s-s%d-e%d-v%d-%08x", name, seed, epochs, FormatVersion, h.Sum32()), nil
}

// recipe returns the training settings of the model name:
// models.DefaultTrainConfig(name) with the given epochs and seed, and log.
func recipe(name string, seed uint64, epochs int, log func(nn.EpochStats)) nn.TrainConfig {
	cfg := models.DefaultTrainConfig(name)
	cfg.Epochs, cfg.Seed, cfg.Log = epochs, seed, log
	return cfg
}

// describeRecipe writes the settings of cfg that shape the trained
// weights, for TrainInfo and the key's fingerprint.
func describeRecipe(cfg nn.TrainConfig) string {
	s := fmt.Sprintf("batch %d, lr decay %g, ", cfg.BatchSize, cfg.LRDecay)
	switch o := cfg.Optimizer.(type) {
	case *nn.Adam:
		s += fmt.Sprintf("adam lr %g betas %g %g eps %g weight decay %g", o.LR, o.Beta1, o.Beta2, o.Eps, o.WeightDecay)
	case *nn.SGD:
		s += fmt.Sprintf("sgd lr %g momentum %g weight decay %g", o.LR, o.Momentum, o.WeightDecay)
	default:
		s += fmt.Sprintf("%T %+v", o, o)
	}
	return s
}

// Train builds the model name with seed, trains it on MNIST for epochs with
// the settings of models.DefaultTrainConfig(name) (shuffled with seed) and
// evaluates it on the MNIST test set. It does not use the cache.
func Train(name string, seed uint64, epochs int, opt Options) (*nn.Graph, TrainInfo, error) {
	key, err := Key(name, seed, epochs)
	if err != nil {
		return nil, TrainInfo{}, err
	}
	if opt.Limit < 0 {
		return nil, TrainInfo{}, fmt.Errorf("%w: limit %d images, want >= 0", ErrInvalidRequest, opt.Limit)
	}
	g, err := models.ByName(name, seed)
	if err != nil {
		return nil, TrainInfo{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	train, test, err := datasets.LoadMNIST("")
	if err != nil {
		return nil, TrainInfo{}, fmt.Errorf("modelcache: %s: %w", key, err)
	}
	if opt.Limit > 0 && opt.Limit < train.Len() {
		if train, err = train.Subset(0, opt.Limit); err != nil {
			return nil, TrainInfo{}, fmt.Errorf("modelcache: %s: %w", key, err)
		}
		key += fmt.Sprintf("-n%d", opt.Limit)
	}
	info := TrainInfo{
		Key: key, Model: name, Seed: seed, Epochs: epochs, FormatVersion: FormatVersion,
		TrainImages: train.Len(), Params: g.NumParams(),
	}
	cfg := recipe(name, seed, epochs, func(s nn.EpochStats) {
		e := EpochInfo{Epoch: s.Epoch, Loss: s.Loss, Accuracy: s.Accuracy, Seconds: s.Seconds, ImagesPerSecond: s.ImagesPerSecond}
		info.EpochStats = append(info.EpochStats, e)
		if opt.Log != nil {
			opt.Log(e)
		}
	})
	cfg.Batch = opt.Batch
	info.Recipe = describeRecipe(cfg)
	start := time.Now()
	if _, err := nn.Fit(g, train.X, train.Labels, cfg); err != nil {
		return nil, TrainInfo{}, fmt.Errorf("modelcache: training %s: %w", key, err)
	}
	info.TrainSeconds = time.Since(start).Seconds()
	if info.TrainSeconds > 0 {
		info.ImagesPerSecond = float64(epochs*train.Len()) / info.TrainSeconds
	}
	if info.TestAccuracy, info.TestLoss, err = nn.Evaluate(g, test.X, test.Labels, evalBatch); err != nil {
		return nil, TrainInfo{}, fmt.Errorf("modelcache: evaluating %s: %w", key, err)
	}
	return g, info, nil
}

// trainFunc trains a model for the cache.
type trainFunc func(name string, seed uint64, epochs int) (*nn.Graph, TrainInfo, error)

// Cache is a folder of trained models.
type Cache struct {
	dir   string
	train trainFunc

	mu    sync.Mutex
	locks map[string]*sync.Mutex // one per key, so a key trains once
}

// New returns a cache kept in dir (created on first store).
func New(dir string) *Cache {
	return newCache(dir, func(name string, seed uint64, epochs int) (*nn.Graph, TrainInfo, error) {
		return Train(name, seed, epochs, Options{})
	})
}

func newCache(dir string, train trainFunc) *Cache {
	return &Cache{dir: dir, train: train, locks: map[string]*sync.Mutex{}}
}

// Dir returns the cache's folder.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) lock(key string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.locks[key]
	if !ok {
		l = &sync.Mutex{}
		c.locks[key] = l
	}
	return l
}

// Get returns the trained model of the key (name, seed, epochs), from the
// cache folder if it holds a readable entry, else by training and storing
// it.
func (c *Cache) Get(name string, seed uint64, epochs int) (*nn.Graph, TrainInfo, error) {
	return c.get(name, seed, epochs, c.train)
}

// GetWith is Get that, on a miss, trains with opt's Log and Batch (see
// Train), so that a caller can show the training's progress and stop it.
// opt.Limit must be 0: a cached model is trained on every image.
func (c *Cache) GetWith(name string, seed uint64, epochs int, opt Options) (*nn.Graph, TrainInfo, error) {
	if opt.Limit != 0 {
		return nil, TrainInfo{}, fmt.Errorf("%w: a cached model trains on every image, not a limit of %d", ErrInvalidRequest, opt.Limit)
	}
	return c.get(name, seed, epochs, func(name string, seed uint64, epochs int) (*nn.Graph, TrainInfo, error) {
		return Train(name, seed, epochs, opt)
	})
}

func (c *Cache) get(name string, seed uint64, epochs int, train trainFunc) (*nn.Graph, TrainInfo, error) {
	key, err := Key(name, seed, epochs)
	if err != nil {
		return nil, TrainInfo{}, err
	}
	l := c.lock(key)
	l.Lock()
	defer l.Unlock()

	modelPath := filepath.Join(c.dir, key+".model")
	if g, info, err := c.load(key, modelPath); err == nil {
		return g, info, nil
	}
	g, info, err := train(name, seed, epochs)
	if err != nil {
		return nil, TrainInfo{}, err
	}
	info.Key = key
	if err := c.store(key, modelPath, g, info); err != nil {
		return nil, TrainInfo{}, err
	}
	info.Path = modelPath
	return g, info, nil
}

// load reads an entry; any problem (missing, damaged, another key's info)
// is an error and the caller retrains.
func (c *Cache) load(key, modelPath string) (*nn.Graph, TrainInfo, error) {
	raw, err := os.ReadFile(infoPath(modelPath))
	if err != nil {
		return nil, TrainInfo{}, err
	}
	var info TrainInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return nil, TrainInfo{}, err
	}
	if info.Key != key {
		return nil, TrainInfo{}, fmt.Errorf("modelcache: %s describes %q, not %q", infoPath(modelPath), info.Key, key)
	}
	g, err := nn.LoadFile(modelPath)
	if err != nil {
		return nil, TrainInfo{}, err
	}
	info.Cached, info.Path = true, modelPath
	return g, info, nil
}

// store writes the model, then its info; an entry counts only when its
// info exists, and both files are renamed into place whole.
func (c *Cache) store(key, modelPath string, g *nn.Graph, info TrainInfo) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("modelcache: %s: %w", key, err)
	}
	if err := nn.SaveFile(modelPath, g); err != nil {
		return fmt.Errorf("modelcache: %s: %w", key, err)
	}
	raw, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("modelcache: %s: %w", key, err)
	}
	return writeFileAtomic(infoPath(modelPath), append(raw, '\n'))
}

func infoPath(modelPath string) string { return strings.TrimSuffix(modelPath, ".model") + ".json" }

// writeFileAtomic replaces path with data atomically (atomicfile).
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("modelcache: writing %s: %w", path, err)
	}
	return nil
}

var defaultCache struct {
	once  sync.Once
	cache *Cache
	err   error
}

// Default returns the cache in DefaultDir.
func Default() (*Cache, error) {
	defaultCache.once.Do(func() {
		dir, err := DefaultDir()
		if err != nil {
			defaultCache.err = err
			return
		}
		defaultCache.cache = New(dir)
	})
	return defaultCache.cache, defaultCache.err
}

// Get returns the trained model (name, seed, epochs) from the default
// cache; see Cache.Get.
func Get(name string, seed uint64, epochs int) (*nn.Graph, TrainInfo, error) {
	c, err := Default()
	if err != nil {
		return nil, TrainInfo{}, err
	}
	return c.Get(name, seed, epochs)
}

// GetWith returns the trained model (name, seed, epochs) from the default
// cache; see Cache.GetWith.
func GetWith(name string, seed uint64, epochs int, opt Options) (*nn.Graph, TrainInfo, error) {
	c, err := Default()
	if err != nil {
		return nil, TrainInfo{}, err
	}
	return c.GetWith(name, seed, epochs, opt)
}

// DefaultDir returns $PTQSPEC_CACHE if set, otherwise .cache/models in the
// root of the ptqspec module containing the working directory, otherwise
// ptqspec/models in the user's cache directory.
func DefaultDir() (string, error) {
	if dir := os.Getenv(DirEnv); dir != "" {
		return dir, nil
	}
	if wd, err := os.Getwd(); err == nil {
		if root, ok := moduleRoot(wd); ok {
			return filepath.Join(root, ".cache", "models"), nil
		}
	}
	user, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("modelcache: no cache folder: set %s (%w)", DirEnv, err)
	}
	return filepath.Join(user, "ptqspec", "models"), nil
}

// moduleRoot walks up from dir to the folder whose go.mod declares the
// ptqspec module.
func moduleRoot(dir string) (string, bool) {
	for {
		if isPtqspecModule(filepath.Join(dir, "go.mod")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isPtqspecModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}
