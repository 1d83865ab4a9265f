package main

// The identity a process presents to istiod, and the gRPC xDS bootstrap built from it.

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// bootstrapEnv is read by gRPC's xDS packages when they initialise, before main runs.
const bootstrapEnv = "GRPC_XDS_BOOTSTRAP_CONFIG"

// nodeFlags name the proxy istiod talks to: istiod matches the IP in the node id to a pod (its labels, its Services).
type nodeFlags struct {
	xds       string
	kind      string
	ip        string
	pod       string
	namespace string
	labels    string
	certDir   string
}

func (n *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.xds, "xds", "", "istiod's plaintext xDS address (host:port)")
	fs.StringVar(&n.kind, "kind", "sidecar", "proxy type in the node id: sidecar or router (a gateway)")
	fs.StringVar(&n.ip, "ip", "127.0.0.1", "IP in the node id (a pod IP makes istiod use that pod's labels)")
	fs.StringVar(&n.pod, "pod", "probe", "pod name in the node id")
	fs.StringVar(&n.namespace, "namespace", "default", "namespace of the proxy")
	fs.StringVar(&n.labels, "labels", "", "workload labels k=v,k=v sent as node metadata (gateways are selected by them)")
	fs.StringVar(&n.certDir, "cert-dir", "", "dir with cert-chain.pem, key.pem, root-cert.pem: enables mTLS (file_watcher)")
}

func (n *nodeFlags) id() string {
	return fmt.Sprintf("%s~%s~%s.%s~%s.svc.cluster.local", n.kind, n.ip, n.pod, n.namespace, n.namespace)
}

func (n *nodeFlags) labelMap() map[string]any {
	out := map[string]any{}
	for _, kv := range strings.Split(n.labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}

// metadata is the node metadata istiod reads (pilot/pkg/model.NodeMetadata); GENERATOR=grpc asks for the proxyless
// generator instead of Envoy's.
func (n *nodeFlags) metadata(generator string) map[string]any {
	md := map[string]any{
		"NAMESPACE":     n.namespace,
		"CLUSTER_ID":    "Kubernetes",
		"ISTIO_VERSION": "1.31.0",
		"NAME":          n.pod,
		"LABELS":        n.labelMap(),
	}
	if generator != "" {
		md["GENERATOR"] = generator
	}
	if n.kind == "sidecar" && generator == "" {
		md["INTERCEPTION_MODE"] = "REDIRECT"
	}
	return md
}

// grpcBootstrap is gRPC's xDS bootstrap (GRPC_XDS_BOOTSTRAP_CONFIG) for this node, with the certificate provider
// "default" istiod's gRPC generator names in every TLS context when a cert dir is given.
func (n *nodeFlags) grpcBootstrap() ([]byte, error) {
	if n.xds == "" {
		return nil, fmt.Errorf("--xds is required")
	}
	b := map[string]any{
		"xds_servers": []any{map[string]any{
			"server_uri":      n.xds,
			"channel_creds":   []any{map[string]any{"type": "insecure"}},
			"server_features": []string{"xds_v3"},
		}},
		"node": map[string]any{"id": n.id(), "metadata": n.metadata("grpc")},
		// Istio's inbound listener name for a proxyless server (pilot/pkg/networking/grpcgen).
		"server_listener_resource_name_template": "xds.istio.io/grpc/lds/inbound/%s",
	}
	if n.certDir != "" {
		b["certificate_providers"] = map[string]any{"default": map[string]any{
			"plugin_name": "file_watcher",
			"config": map[string]any{
				"certificate_file":    filepath.Join(n.certDir, "cert-chain.pem"),
				"private_key_file":    filepath.Join(n.certDir, "key.pem"),
				"ca_certificate_file": filepath.Join(n.certDir, "root-cert.pem"),
				"refresh_interval":    "900s",
			},
		}}
	}
	return json.Marshal(b)
}

// withBootstrap re-executes this program with the bootstrap in its environment unless it is there already: gRPC
// reads it at package initialisation, so setting it from main would come too late. The pid stays the same.
func withBootstrap(bootstrap []byte) error {
	if os.Getenv(bootstrapEnv) == string(bootstrap) {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(self, os.Args, append(os.Environ(), bootstrapEnv+"="+string(bootstrap)))
}

// serveControl serves mux on addr and announces the bound address on stdout for the test that started us.
func serveControl(addr string, mux *http.ServeMux) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "READY %s\n", ln.Addr())
	return http.Serve(ln, mux)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("content-type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
