package main

// The gRPC app of one pod: grpc.testing.TestService/UnaryCall answering with its workload and pod name, failing a
// set share of calls (spread evenly, like the HTTP pod runner) and exporting, per request, the series Envoy's Istio
// stats filter would record at the destination for it. With --xds the server is xDS-managed: it serves only once
// istiod sent its inbound listener, with the mTLS mode and RBAC filters (AuthorizationPolicies) istiod computed.

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/xds"
)

// The labels of Envoy's istio_requests_total (Istio's standard metrics), in its order.
var istioLabels = []string{
	"reporter", "source_workload", "source_workload_namespace", "source_principal", "source_app", "source_version",
	"destination_workload", "destination_workload_namespace", "destination_principal", "destination_app",
	"destination_version", "destination_service", "destination_service_name", "destination_service_namespace",
	"request_protocol", "response_code", "grpc_response_status", "response_flags", "connection_security_policy",
}

// Istio's default duration buckets (ms).
var istioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

type echo struct {
	testgrpc.UnimplementedTestServiceServer
	pod, workload string
	errorRate     float64
	latency       time.Duration
	mu            sync.Mutex
	n             int
}

// failsAt spreads failures evenly: call n fails when it crosses the next multiple of 1/rate.
func failsAt(n int, rate float64) bool {
	return int(float64(n+1)*rate) > int(float64(n)*rate)
}

func (e *echo) UnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	e.mu.Lock()
	fail := failsAt(e.n, e.errorRate)
	e.n++
	e.mu.Unlock()
	if e.latency > 0 {
		time.Sleep(e.latency)
	}
	if fail {
		return nil, status.Error(codes.Internal, "injected failure (ERROR_RATE)")
	}
	return &testgrpc.SimpleResponse{ServerId: e.workload, Hostname: e.pod}, nil
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	var node nodeFlags
	node.register(fs)
	addr := fs.String("addr", "", "ip:port to serve gRPC on (the pod IP and containerPort)")
	metricsAddr := fs.String("metrics", "", "ip:port of the Prometheus endpoint (/stats/prometheus)")
	workload := fs.String("workload", "", "the pod's workload (its Deployment), as Istio labels it")
	app := fs.String("app", "", "the pod's app label")
	version := fs.String("version", "unknown", "the pod's version label")
	errorRate := fs.Float64("error-rate", 0, "share of calls answered INTERNAL (0-1)")
	latencyMs := fs.Int("latency-ms", 0, "delay before every answer")
	useXDS := fs.Bool("xds-managed", false, "xDS-managed server: serve once istiod sent the inbound listener (mTLS, RBAC)")
	_ = fs.Parse(args)

	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "istio_requests_total"}, istioLabels)
	duration := prometheus.NewHistogramVec(
		prometheus.HistogramOpts{Name: "istio_request_duration_milliseconds", Buckets: istioBuckets}, istioLabels)
	reg.MustRegister(requests, duration)
	trustDomain := "cluster.local"
	destPrincipal := "unknown"
	if node.certDir != "" {
		destPrincipal = fmt.Sprintf("%s/ns/%s/sa/default", trustDomain, node.namespace)
	}
	// Envoy records one sample per request at the destination; for gRPC the HTTP status is 200 and the gRPC code
	// goes in grpc_response_status (a failed call is not a 5xx there).
	record := func(ctx context.Context, start time.Time, err error) {
		code := status.Code(err)
		source, policy := "unknown", "none"
		if p, ok := peer.FromContext(ctx); ok {
			if tls, ok := p.AuthInfo.(credentials.TLSInfo); ok {
				policy = "mutual_tls"
				source = spiffeOf(tls.State.PeerCertificates)
			}
		}
		svc := "unknown"
		if md, ok := metadata.FromIncomingContext(ctx); ok && len(md[":authority"]) > 0 {
			svc, _, _ = strings.Cut(md[":authority"][0], ":")
		}
		svcName, svcNs, _ := strings.Cut(svc, ".")
		svcNs, _, _ = strings.Cut(svcNs, ".")
		values := []string{
			"destination", "unknown", "unknown", source, "unknown", "unknown",
			*workload, node.namespace, destPrincipal, *app, *version, svc, svcName, svcNs,
			"grpc", "200", strconv.Itoa(int(code)), "-", policy,
		}
		requests.WithLabelValues(values...).Inc()
		duration.WithLabelValues(values...).Observe(float64(time.Since(start).Microseconds()) / 1000)
	}
	interceptor := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		record(ctx, start, err)
		return resp, err
	}
	impl := &echo{pod: node.pod, workload: *workload, errorRate: *errorRate, latency: time.Duration(*latencyMs) * time.Millisecond}

	// Ready once the listener serves: at once for a plain server, on istiod's inbound listener for an xDS one.
	var serving atomic.Bool
	var srv interface {
		RegisterService(*grpc.ServiceDesc, any)
		Serve(net.Listener) error
	}
	if *useXDS {
		bootstrap, err := node.grpcBootstrap()
		if err != nil {
			return err
		}
		if err := withBootstrap(bootstrap); err != nil {
			return err
		}
		creds, err := xdscreds.NewServerCredentials(xdscreds.ServerOptions{FallbackCreds: insecure.NewCredentials()})
		if err != nil {
			return err
		}
		s, err := xds.NewGRPCServer(grpc.Creds(creds), grpc.UnaryInterceptor(interceptor),
			xds.ServingModeCallback(func(a net.Addr, args xds.ServingModeChangeArgs) {
				log.Printf("serving mode of %s: %v (%v)", a, args.Mode, args.Err)
				serving.Store(args.Mode == connectivity.ServingModeServing)
			}))
		if err != nil {
			return err
		}
		srv = s
	} else {
		srv = grpc.NewServer(grpc.UnaryInterceptor(interceptor))
		serving.Store(true)
	}
	srv.RegisterService(&testgrpc.TestService_ServiceDesc, impl)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/stats/prometheus", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !serving.Load() {
			http.Error(w, "not serving", http.StatusServiceUnavailable)
		}
	})
	go func() {
		if err := srv.Serve(ln); err != nil {
			log.Fatalf("serve: %v", err)
		}
	}()
	return serveControl(*metricsAddr, mux)
}

// spiffeOf is the peer's Istio principal (trust-domain/ns/N/sa/S) from its certificate's spiffe:// URI SAN.
func spiffeOf(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return "unknown"
	}
	for _, u := range chain[0].URIs {
		if u.Scheme == "spiffe" {
			return u.Host + u.Path
		}
	}
	return "unknown"
}
