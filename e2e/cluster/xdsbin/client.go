package main

// A proxyless gRPC client: it resolves an xds:/// target through istiod (listener → route → weighted clusters →
// endpoints, picked per RPC by gRPC itself), sends unary RPCs at a steady rate and keeps every outcome, so the test
// can compute served shares, reaction times and failures over any window afterwards.

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and the xDS balancers
)

// outcome is one RPC: [start (unix ms), duration (ms), gRPC code, workload index, error index (-1 = none)].
type outcome [5]int64

type recorder struct {
	mu        sync.Mutex
	outcomes  []outcome
	workloads []string
	workloadI map[string]int
	errors    []string
	errorI    map[string]int
	skipped   int64
}

func (r *recorder) index(list *[]string, m map[string]int, s string) int64 {
	if i, ok := m[s]; ok {
		return int64(i)
	}
	m[s] = len(*list)
	*list = append(*list, s)
	return int64(m[s])
}

func (r *recorder) add(start time.Time, d time.Duration, code codes.Code, workload, errMsg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := int64(-1)
	if errMsg != "" {
		e = r.index(&r.errors, r.errorI, errMsg)
	}
	r.outcomes = append(r.outcomes, outcome{
		start.UnixMilli(), d.Milliseconds(), int64(code), r.index(&r.workloads, r.workloadI, workload), e,
	})
}

func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	var node nodeFlags
	node.register(fs)
	target := fs.String("target", "", "xds:///<service>.<namespace>.svc.cluster.local:<port>")
	rps := fs.Int("rps", 100, "RPCs per second")
	concurrency := fs.Int("concurrency", 16, "RPCs in flight at most (a tick that finds them all busy is skipped)")
	timeout := fs.Duration("timeout", 2*time.Second, "deadline of one RPC")
	listen := fs.String("listen", "127.0.0.1:0", "address of the results endpoint")
	headers := fs.String("metadata", "", "k=v,k=v sent as request metadata (headers) on every RPC: what RDS header matchers see")
	_ = fs.Parse(args)
	if *target == "" {
		return fmt.Errorf("--target is required")
	}
	bootstrap, err := node.grpcBootstrap()
	if err != nil {
		return err
	}
	if err := withBootstrap(bootstrap); err != nil {
		return err
	}
	creds, err := xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := testgrpc.NewTestServiceClient(conn)
	var pairs []string
	for _, kv := range strings.Split(*headers, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			pairs = append(pairs, k, v)
		}
	}
	rec := &recorder{workloadI: map[string]int{}, errorI: map[string]int{}}
	call := func() {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		if len(pairs) > 0 {
			ctx = metadata.AppendToOutgoingContext(ctx, pairs...)
		}
		start := time.Now()
		resp, err := client.UnaryCall(ctx, &testgrpc.SimpleRequest{FillServerId: true})
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		// ServerId is the answering workload (Deployment), Hostname the pod.
		rec.add(start, time.Since(start), status.Code(err), resp.GetServerId(), msg)
	}
	go func() {
		slots := make(chan struct{}, *concurrency)
		tick := time.NewTicker(time.Second / time.Duration(*rps))
		defer tick.Stop()
		for range tick.C {
			select {
			case slots <- struct{}{}:
				go func() {
					defer func() { <-slots }()
					call()
				}()
			default:
				rec.mu.Lock()
				rec.skipped++
				rec.mu.Unlock()
			}
		}
	}()
	mux := http.NewServeMux()
	// GET /results?from=N: outcomes N.. (the caller keeps its offset), with the string tables they index.
	mux.HandleFunc("/results", func(w http.ResponseWriter, req *http.Request) {
		from, _ := strconv.Atoi(req.URL.Query().Get("from"))
		rec.mu.Lock()
		defer rec.mu.Unlock()
		from = min(max(from, 0), len(rec.outcomes))
		writeJSON(w, map[string]any{
			"from":      from,
			"outcomes":  rec.outcomes[from:],
			"workloads": rec.workloads,
			"errors":    rec.errors,
			"skipped":   rec.skipped,
		})
	})
	return serveControl(*listen, mux)
}
