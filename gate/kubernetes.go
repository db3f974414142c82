package gate

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
)

// SkipAnnotation is the Kubernetes annotation that asks to skip guardrails,
// citing approved exceptions: "k8s-privileged:42, k8s-hostpath:43".
const SkipAnnotation = "onus.dev/skip"

// parseKubernetes reads multi-document YAML (or a JSON object), such as
// rendered Helm output: one subject per object, List items expanded.
//
// Objects that run pods (Pod, Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job, CronJob, ReplicationController) get `resource.pod`, the
// pod spec, and `resource.containers`, every container, init and
// ephemeral ones included, each with `effective`: its security context
// merged over the pod's (runAsUser, runAsNonRoot, runAsGroup).
func parseKubernetes(file string, data []byte, o ParseOptions) ([]*Subject, error) {
	var out []*Subject
	for _, d := range splitDocuments(data) {
		if len(bytes.TrimSpace(stripComments(d.text))) == 0 {
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal(d.text, &obj); err != nil || obj == nil {
			if err == nil {
				err = fmt.Errorf("the document is not a mapping")
			}
			line := d.line
			var ye yaml.Error
			if e, ok := err.(yaml.Error); ok {
				ye = e
				if tk := ye.GetToken(); tk != nil {
					line = d.line + tk.Position.Line - 1
				}
				err = fmt.Errorf("%s", ye.GetMessage())
			}
			return nil, &InputError{File: file, Line: line, Message: "not valid Kubernetes YAML: " + err.Error()}
		}
		obj = plain(obj).(map[string]any)
		var skips []Skip
		for _, m := range skipComment.FindAllSubmatch(d.text, -1) {
			skips = append(skips, parseSkips(string(m[1]), fmt.Sprintf("comment in %s", file))...)
		}
		objs := []map[string]any{obj}
		if items, ok := obj["items"].([]any); ok && strings.HasSuffix(str(obj["kind"]), "List") {
			objs = objs[:0]
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					objs = append(objs, m)
				}
			}
		}
		for _, obj := range objs {
			kind, apiVersion := str(obj["kind"]), str(obj["apiVersion"])
			if kind == "" || apiVersion == "" {
				return nil, &InputError{File: file, Line: d.line, Message: "a Kubernetes object needs apiVersion and kind"}
			}
			meta, _ := obj["metadata"].(map[string]any)
			name, ns := str(meta["name"]), str(meta["namespace"])
			addr := kind + "/" + name
			if ns != "" {
				addr = kind + "/" + ns + "/" + name
			}
			s := &Subject{Kind: Kubernetes, File: file, Path: repoPath(o.Root, file), Line: d.line, Address: addr, Type: kind, Value: obj, Skips: skips}
			if ann, ok := meta["annotations"].(map[string]any); ok {
				if v, ok := ann[SkipAnnotation].(string); ok {
					s.Skips = append(s.Skips, parseSkips(v, "annotation "+SkipAnnotation)...)
				}
			}
			obj["containers"] = []any{}
			if pod := podSpec(obj); pod != nil {
				obj["pod"] = pod
				obj["containers"] = containers(pod)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

type document struct {
	text []byte
	line int
}

// splitDocuments splits a YAML stream at "---" lines, keeping where each
// document starts.
func splitDocuments(data []byte) []document {
	var out []document
	start, startLine, line := 0, 1, 1
	for i := 0; i < len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		next := len(data)
		if end >= 0 {
			next = i + end + 1
		}
		l := bytes.TrimRight(data[i:next], "\r\n")
		if bytes.Equal(l, []byte("---")) || bytes.HasPrefix(l, []byte("--- ")) {
			out = append(out, document{text: data[start:i], line: startLine})
			start, startLine = next, line+1
		}
		i = next
		line++
	}
	return append(out, document{text: data[start:], line: startLine})
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out
}

// plain turns ordered maps and YAML numbers into the plain values CEL
// reads.
func plain(v any) any {
	switch v := v.(type) {
	case yaml.MapSlice:
		m := make(map[string]any, len(v))
		for _, it := range v {
			m[fmt.Sprint(it.Key)] = plain(it.Value)
		}
		return m
	case map[string]any:
		for k, x := range v {
			v[k] = plain(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = plain(x)
		}
		return v
	case uint64:
		return int64(v)
	case int:
		return int64(v)
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func podSpec(obj map[string]any) map[string]any {
	get := func(m map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			n, ok := m[k].(map[string]any)
			if !ok {
				return nil
			}
			m = n
		}
		return m
	}
	switch str(obj["kind"]) {
	case "Pod":
		return get(obj, "spec")
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController", "PodTemplate":
		if str(obj["kind"]) == "PodTemplate" {
			return get(obj, "template", "spec")
		}
		return get(obj, "spec", "template", "spec")
	case "CronJob":
		return get(obj, "spec", "jobTemplate", "spec", "template", "spec")
	}
	return nil
}

func containers(pod map[string]any) []any {
	podSC, _ := pod["securityContext"].(map[string]any)
	var out []any
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, _ := pod[key].([]any)
		for _, c := range list {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			eff := map[string]any{}
			sc, _ := cm["securityContext"].(map[string]any)
			for _, k := range []string{"runAsUser", "runAsNonRoot", "runAsGroup"} {
				if v, ok := sc[k]; ok {
					eff[k] = v
				} else if v, ok := podSC[k]; ok {
					eff[k] = v
				}
			}
			c2 := make(map[string]any, len(cm)+2)
			for k, v := range cm {
				c2[k] = v
			}
			c2["effective"] = eff
			c2["role"] = strings.TrimSuffix(key, "s")
			out = append(out, c2)
		}
	}
	return out
}
