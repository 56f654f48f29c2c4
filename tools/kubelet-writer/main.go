// atomic-writer publishes a downwardAPI volume's annotations file with the kubelet's own
// code: fieldpath.FormatMap formats metadata.annotations as the kubelet does, and
// volume/util.AtomicWriter writes it (timestamped directory, ..data symlink swap).
// mlkube's runtime tests read what it writes, so the reader is tested against the real
// layout rather than a copy of it.
//
//	atomic-writer DIR < annotations.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/kubernetes/pkg/fieldpath"
	"k8s.io/kubernetes/pkg/volume/util"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: atomic-writer DIR < annotations.json")
		os.Exit(2)
	}
	var annotations map[string]string
	if err := json.NewDecoder(os.Stdin).Decode(&annotations); err != nil {
		fmt.Fprintln(os.Stderr, "atomic-writer: stdin:", err)
		os.Exit(2)
	}
	writer, err := util.NewAtomicWriter(os.Args[1], "mlkube-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, "atomic-writer:", err)
		os.Exit(1)
	}
	payload := map[string]util.FileProjection{
		// 0644: the downwardAPI volume's defaultMode
		"annotations": {Data: []byte(fieldpath.FormatMap(annotations)), Mode: 0o644},
	}
	if err := writer.Write(payload, nil); err != nil {
		fmt.Fprintln(os.Stderr, "atomic-writer:", err)
		os.Exit(1)
	}
}
