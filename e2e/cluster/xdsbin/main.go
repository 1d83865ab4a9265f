// Command xdsprobe is the Go side of the Istio end-to-end tests: three small programs in one binary, so they share
// one build of gRPC and the Envoy API types with istiod (the module versions are istiod's).
//
//	xdsprobe ads    — an ADS client that connects to istiod as a sidecar or gateway and serves what istiod pushed
//	xdsprobe client — a proxyless gRPC client (xds:/// target) sending steady unary RPCs and recording each answer
//	xdsprobe server — a gRPC echo server on a pod IP, optionally xDS-managed (mTLS, RBAC from istiod), exporting
//	                  Envoy's istio_requests_total / istio_request_duration_milliseconds series for its requests
//
// Each prints one line "READY <addr>" on stdout once its control endpoint serves; everything else goes to stderr.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: xdsprobe ads|client|server [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "ads":
		err = runADS(os.Args[2:])
	case "client":
		err = runClient(os.Args[2:])
	case "server":
		err = runServer(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xdsprobe:", err)
		os.Exit(1)
	}
}
