// Command etcd is the lab's etcd, built from the same go.etcd.io/etcd release that
// Kubernetes vendors, so the control plane gets the storage features it expects.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
