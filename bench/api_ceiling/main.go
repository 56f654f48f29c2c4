// api-ceiling sends a list of API requests to a kube-apiserver as fast as it will take
// them, from a fixed number of goroutines, and prints what it took as one JSON object.
//
// bench/spot_scale.py uses it for the ceiling its watchers are held against: the writes
// a trial needs (every pod's annotation, every eviction), issued by a client that costs
// the machine almost nothing, so the time is the API server's (and its watchers') own.
// Standard library only, so it builds in seconds without the module proxy.
//
//	api-ceiling -server URL -ca FILE -cert FILE -key FILE -concurrency N < requests.jsonl
//
// Each input line: {"method": "PATCH", "path": "/api/v1/...", "contentType": "...", "body": {...}}.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

type request struct {
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	ContentType string          `json:"contentType"`
	Body        json.RawMessage `json:"body"`
}

type summary struct {
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"perSecond"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
}

func client(ca, cert, key string, conns int) (*http.Client, error) {
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", ca)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}},
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		// No HTTP/2: one request per connection at a time, as httpx does.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	return &http.Client{Transport: transport, Timeout: 60 * time.Second}, nil
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}

func main() {
	server := flag.String("server", "", "the API server's URL")
	ca := flag.String("ca", "", "its CA certificate file")
	cert := flag.String("cert", "", "client certificate file")
	key := flag.String("key", "", "client key file")
	concurrency := flag.Int("concurrency", 16, "requests in flight at once")
	flag.Parse()
	http1, err := client(*ca, *cert, *key, *concurrency)
	if err != nil {
		fmt.Fprintln(os.Stderr, "api-ceiling:", err)
		os.Exit(2)
	}
	var requests []request
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		var r request
		if err := json.Unmarshal(scanner.Bytes(), &r); err != nil {
			fmt.Fprintln(os.Stderr, "api-ceiling: bad input line:", err)
			os.Exit(2)
		}
		requests = append(requests, r)
	}
	// Open the connections first, so the TLS handshakes are not in the time.
	var warm sync.WaitGroup
	for i := 0; i < *concurrency; i++ {
		warm.Add(1)
		go func() {
			defer warm.Done()
			if resp, err := http1.Get(*server + "/version"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	warm.Wait()

	latency := make([]float64, len(requests))
	var mu sync.Mutex
	out := summary{Requests: len(requests), Concurrency: *concurrency}
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := requests[i]
				began := time.Now()
				req, _ := http.NewRequest(r.Method, *server+r.Path, bytes.NewReader(r.Body))
				req.Header.Set("Content-Type", r.ContentType)
				req.Header.Set("Accept", "application/json")
				resp, err := http1.Do(req)
				failure := ""
				if err != nil {
					failure = err.Error()
				} else {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 300 {
						failure = fmt.Sprintf("%s %s: %d %s", r.Method, r.Path, resp.StatusCode, bytes.TrimSpace(body))
					}
				}
				latency[i] = time.Since(began).Seconds() * 1000
				if failure != "" {
					mu.Lock()
					out.Errors++
					if out.FirstError == "" {
						out.FirstError = failure
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range requests {
		next <- i
	}
	close(next)
	wg.Wait()
	out.Seconds = time.Since(start).Seconds()
	if out.Seconds > 0 {
		out.PerSecond = float64(len(requests)) / out.Seconds
	}
	sort.Float64s(latency)
	out.P50Ms = quantile(latency, 0.5)
	out.P99Ms = quantile(latency, 0.99)
	json.NewEncoder(os.Stdout).Encode(out)
}
