# shellcheck shell=bash
# Lab component `kube`: a real Kubernetes control plane on loopback.
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from
# source (hack/kube-build), and kwok simulating the nodes so
# that Deployments, StatefulSets and Jobs become Ready/Complete without a kubelet.
# Sourced by hack/lab.

KUBE_DIR=$FLYWHEEL_LAB_DIR/kube
KUBE_BIN_CACHE=$FLYWHEEL_CACHE/kubernetes-$KUBERNETES_VERSION
KUBE_ETCD_PORT=${KUBE_ETCD_PORT:-23790}
KUBE_APISERVER_PORT=${KUBE_APISERVER_PORT:-16443}
KUBE_KUBECONFIG=$KUBE_DIR/admin.kubeconfig
# Simulated nodes; kwok manages exactly the nodes that carry its annotation.
KUBE_NODES=(lab-node-1 lab-node-2 lab-node-3)
# Enough for every claim the test suite makes in one session: a deleted claim leaves its
# volume Released (Retain), and only the next `hack/lab up kube` makes it Available again.
KUBE_VOLUMES=32
KUBE_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

kube_install() {
  ensure_debs openssl curl
  local etcd_cache=$FLYWHEEL_CACHE/etcd-$ETCD_VERSION
  if [ ! -x "$etcd_cache/etcd" ]; then
    grep -q "go.etcd.io/etcd/server/v3 v$ETCD_VERSION\$" "$FLYWHEEL_ROOT/hack/kube-build/go.mod" ||
      die "hack/kube-build/go.mod does not require go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
    log "building etcd $ETCD_VERSION (first run only)"
    (cd "$FLYWHEEL_ROOT/hack/kube-build" && go build -trimpath -o "$etcd_cache.tmp/" ./cmd/etcd) ||
      die "building etcd failed"
    rm -rf "$etcd_cache" && mv "$etcd_cache.tmp" "$etcd_cache"
  fi
  if [ ! -x "$KUBE_BIN_CACHE/kube-apiserver" ]; then
    log "building Kubernetes $KUBERNETES_VERSION control plane (first run only, ~10 min)"
    grep -q "k8s.io/kubernetes v$KUBERNETES_VERSION\$" "$FLYWHEEL_ROOT/hack/kube-build/go.mod" ||
      die "hack/kube-build/go.mod does not require k8s.io/kubernetes v$KUBERNETES_VERSION: run hack/kube-build/gen-gomod.sh"
    rm -rf "$KUBE_BIN_CACHE.tmp"
    # Without these stamps the binaries report v0.0.0-master, which clients refuse to parse.
    local minor=${KUBERNETES_VERSION#*.} stamp="" package
    minor=${minor%%.*}
    for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      stamp+=" -X $package.gitVersion=v$KUBERNETES_VERSION -X $package.gitMajor=${KUBERNETES_VERSION%%.*}"
      stamp+=" -X $package.gitMinor=$minor -X $package.gitTreeState=clean -X $package.buildDate=1970-01-01T00:00:00Z"
    done
    (cd "$FLYWHEEL_ROOT/hack/kube-build" && go build -trimpath -ldflags "-s -w$stamp" -o "$KUBE_BIN_CACHE.tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl) || die "building Kubernetes failed"
    rm -rf "$KUBE_BIN_CACHE" && mv "$KUBE_BIN_CACHE.tmp" "$KUBE_BIN_CACHE"
  fi
  mkdir -p "$FLYWHEEL_BIN"
  local binary
  for binary in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    ln -sfn "$KUBE_BIN_CACHE/$binary" "$FLYWHEEL_BIN/$binary"
  done
  ln -sfn "$etcd_cache/etcd" "$FLYWHEEL_BIN/etcd"
  go_install_cached kwok "$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  go_install_cached helm "$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
}

# One CA signs everything; the admin identity (system:masters) is shared by the
# controllers, which is fine for a single-user loopback lab and keeps the PKI small.
kube_pki() {
  local pki=$KUBE_DIR/pki
  [ -f "$pki/admin.crt" ] && return 0
  mkdir -p "$pki"
  (
    cd "$pki" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=flywheel-lab-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 3650 -extfile apiserver.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=flywheel-lab-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out admin.crt -days 3650 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
  "$FLYWHEEL_BIN/kubectl" config --kubeconfig="$KUBE_KUBECONFIG" set-cluster lab \
    --server="https://127.0.0.1:$KUBE_APISERVER_PORT" --certificate-authority="$pki/ca.crt" --embed-certs >/dev/null
  "$FLYWHEEL_BIN/kubectl" config --kubeconfig="$KUBE_KUBECONFIG" set-credentials admin \
    --client-certificate="$pki/admin.crt" --client-key="$pki/admin.key" --embed-certs >/dev/null
  "$FLYWHEEL_BIN/kubectl" config --kubeconfig="$KUBE_KUBECONFIG" set-context lab --cluster=lab --user=admin >/dev/null
  "$FLYWHEEL_BIN/kubectl" config --kubeconfig="$KUBE_KUBECONFIG" use-context lab >/dev/null
  chmod 600 "$KUBE_KUBECONFIG"
}

kubectl_lab() { "$FLYWHEEL_BIN/kubectl" --kubeconfig="$KUBE_KUBECONFIG" "$@"; }

kube_up() {
  kube_install
  kube_pki
  local pki=$KUBE_DIR/pki
  mkdir -p "$KUBE_DIR/etcd"
  start_daemon etcd "$FLYWHEEL_BIN/etcd" --name lab --data-dir "$KUBE_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$KUBE_ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$KUBE_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((KUBE_ETCD_PORT + 10))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((KUBE_ETCD_PORT + 10))" \
    --initial-cluster "lab=http://127.0.0.1:$((KUBE_ETCD_PORT + 10))" \
    --unsafe-no-fsync
  wait_for etcd 30 curl -sf "http://127.0.0.1:$KUBE_ETCD_PORT/health"

  # No endpoint reconciler: the loopback advertise address is not a valid Endpoints IP.
  start_daemon kube-apiserver "$FLYWHEEL_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$KUBE_ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$KUBE_APISERVER_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 \
    --authorization-mode RBAC --allow-privileged=true \
    --endpoint-reconciler-type none
  wait_for kube-apiserver 120 kubectl_lab get --raw /readyz

  # kwok's lease renewals run late on a loaded machine; past the grace period the node
  # lifecycle controller marks the nodes' pods unready, which kwok never undoes, so rollouts
  # waited on afterwards time out (seen with a 10-minute grace period at a load average of
  # 14). Simulated nodes do not die: a day's grace. The controller itself must run: it is
  # what lifts the not-ready taint new nodes are admitted with.
  start_daemon kube-controller-manager "$FLYWHEEL_BIN/kube-controller-manager" \
    --kubeconfig "$KUBE_KUBECONFIG" \
    --authentication-kubeconfig "$KUBE_KUBECONFIG" --authorization-kubeconfig "$KUBE_KUBECONFIG" \
    --bind-address 127.0.0.1 --secure-port 10357 --leader-elect=false \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --use-service-account-credentials=false \
    --node-monitor-grace-period 24h
  start_daemon kube-scheduler "$FLYWHEEL_BIN/kube-scheduler" \
    --kubeconfig "$KUBE_KUBECONFIG" \
    --authentication-kubeconfig "$KUBE_KUBECONFIG" --authorization-kubeconfig "$KUBE_KUBECONFIG" \
    --bind-address 127.0.0.1 --secure-port 10359 --leader-elect=false
  start_daemon kwok "$FLYWHEEL_BIN/kwok" --kubeconfig "$KUBE_KUBECONFIG" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --server-address 127.0.0.1:10347 \
    --cidr 10.244.0.0/16 --node-ip 127.0.0.1
  kube_nodes
  kube_volumes
  wait_for "a schedulable service account" 60 kubectl_lab -n default get serviceaccount default

  env_put KUBECONFIG "$KUBE_KUBECONFIG"
  env_put K8S_AUTH_KUBECONFIG "$KUBE_KUBECONFIG"
  env_put KUBERNETES_VERSION "$KUBERNETES_VERSION"
  env_put KUBE_APISERVER_URL "https://127.0.0.1:$KUBE_APISERVER_PORT"
  env_put HELM_BIN "$FLYWHEEL_BIN/helm"
}

kube_nodes() {
  local node
  for node in "${KUBE_NODES[@]}"; do
    kubectl_lab apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $node
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
  capacity: {cpu: "32", memory: 128Gi, pods: "110"}
NODE
  done
  wait_for "kwok nodes Ready" 180 kubectl_lab wait --for=condition=Ready node --all --timeout=1s
}

# The lab has no volume provisioner. A few class-less volumes let claims without a storage
# class bind (as on a cluster whose operator pre-creates volumes), so roles that keep data
# on a PVC, attic and bazel_remote, roll out here as they would there. kwok runs no
# containers: nothing is ever written to them.
kube_volumes() {
  local index
  for index in $(seq 1 "$KUBE_VOLUMES"); do
    kubectl_lab apply -f - >/dev/null <<VOLUME
apiVersion: v1
kind: PersistentVolume
metadata:
  name: lab-volume-$index
  labels:
    glorious.flywheel/lab: "true"
spec:
  capacity: {storage: 500Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $KUBE_DIR/volumes/$index}
VOLUME
  done
  # A Released volume keeps its old claim's reference and binds nothing new until it is cleared.
  local released
  released=$(kubectl_lab get pv -l glorious.flywheel/lab=true \
    -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}')
  for index in $released; do
    kubectl_lab patch pv "$index" --type json -p '[{"op": "remove", "path": "/spec/claimRef"}]' >/dev/null
  done
}

kube_down() {
  local component
  for component in $(printf '%s\n' "${KUBE_COMPONENTS[@]}" | tac); do stop_daemon "$component"; done
  rm -rf "$KUBE_DIR/etcd"
}

kube_status() {
  local rc=0 component version state
  for component in "${KUBE_COMPONENTS[@]}"; do
    case $component in
      etcd) version=$ETCD_VERSION ;;
      kwok) version=$KWOK_VERSION ;;
      *) version=$KUBERNETES_VERSION ;;
    esac
    if daemon_running "$component"; then state=running; else state=stopped; rc=1; fi
    printf '%-24s %-10s %s\n' "$component" "${version:-?}" "$state"
  done
  return $rc
}
