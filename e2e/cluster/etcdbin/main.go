// Command etcd is upstream's etcd server main, built from the module proxy (Debian's 3.4 lacks
// RequestWatchProgress, which client-go 1.36's watch-list needs).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
