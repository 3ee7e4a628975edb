//go:build tools

// Keeps k8s.io/kubernetes in go.mod for `go mod tidy`: the control-plane commands
// are built from it by package path (hack/lab.d/kube.sh) and import nothing here.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
)
