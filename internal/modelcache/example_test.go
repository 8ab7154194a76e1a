package modelcache_test

import (
	"fmt"
	"strings"

	"github.com/ptqspec/ptqspec/internal/modelcache"
)

// Cache entries are named by everything that shaped the model; the last
// part fingerprints its initial weights and training recipe.
func ExampleKey() {
	key, err := modelcache.Key("mlp", 1, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(key[:strings.LastIndex(key, "-")])
	fmt.Println(len(key[strings.LastIndex(key, "-")+1:]), "hex digits of fingerprint")
	// Output:
	// mlp-s1-e3-v2
	// 8 hex digits of fingerprint
}
