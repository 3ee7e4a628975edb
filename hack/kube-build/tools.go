//go:build tools

// Keeps every package the lab builds in go.mod and go.sum for `go mod tidy`: the
// control-plane commands and kubectl are built from k8s.io/kubernetes by package path
// (hack/lab.d/kube.sh) and are main packages, which cannot be imported, so their
// app packages stand in for them. Without these, tidy drops go.sum entries that only a
// cold build (no cached binaries) needs, and that build fails with "missing go.sum entry".
package tools

import (
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
)
