{{/* Names and labels shared by every template. */}}

{{/* Object name prefix: fullnameOverride, else the release name (release "vireo" gives deploy/'s names). */}}
{{- define "vireo.fullname" -}}
{{- .Values.fullnameOverride | default .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "vireo.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "vireo.fullname" .) -}}
{{- end -}}

{{/* Labels that select the controller's pods; never change them in an upgrade (Deployment selectors are immutable). */}}
{{- define "vireo.selectorLabels" -}}
app.kubernetes.io/name: vireo
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vireo.labels" -}}
{{ include "vireo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vireo.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "vireo.leaseNamespace" -}}
{{- .Values.leaderElection.leaseNamespace | default .Release.Namespace -}}
{{- end -}}

{{/* Namespaces where Secrets may be read by RoleBinding; empty means cluster-wide (rbac.scope=cluster only). */}}
{{- define "vireo.secretNamespaces" -}}
{{- $ns := .Values.rbac.secretNamespaces -}}
{{- if and (not $ns) (eq .Values.rbac.scope "namespaced") -}}
{{- $ns = .Values.watchNamespaces -}}
{{- with .Values.notifications.slackSecret }}{{ $ns = append $ns (first (splitList "/" .)) }}{{ end -}}
{{- end -}}
{{- $ns | uniq | join "," -}}
{{- end -}}

{{/* Fails the render on contradictory values instead of installing a controller that cannot work. */}}
{{- define "vireo.validate" -}}
{{- if not (has .Values.rbac.scope (list "cluster" "namespaced")) -}}
{{- fail "rbac.scope must be cluster or namespaced" -}}
{{- end -}}
{{- if and (eq .Values.rbac.scope "namespaced") (not .Values.watchNamespaces) -}}
{{- fail "rbac.scope=namespaced needs watchNamespaces: the controller can only watch where it is bound" -}}
{{- end -}}
{{- with .Values.notifications.slackSecret -}}
{{- if not (regexMatch "^[a-z0-9-]+/[a-z0-9.-]+$" .) -}}
{{- fail "notifications.slackSecret must be namespace/name" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "ns=a,ns=b": one namespace's entries of a per-namespace allow-list flag (--allowed-hosts, --allowed-gateways). */}}
{{- define "vireo.perNamespace" -}}
{{- $ns := .namespace -}}
{{- $out := list -}}
{{- range .entries }}{{ $out = append $out (printf "%s=%s" $ns .) }}{{ end -}}
{{- join "," $out -}}
{{- end -}}

{{/* Labels that select the load generator's pods: never the controller's, so neither selects the other's pods. */}}
{{- define "vireo.loadgenSelectorLabels" -}}
app.kubernetes.io/name: vireo-loadgen
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vireo.loadgenLabels" -}}
{{ include "vireo.loadgenSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The load generator's check URL, when it is enabled: the controller's --allowed-check-urls gains it. */}}
{{- define "vireo.loadgenUrl" -}}
{{- if .Values.loadgen.enabled -}}
{{- printf "http://%s-loadgen.%s:%v/" (include "vireo.fullname" .) (.Values.loadgen.namespace | default .Release.Namespace) .Values.loadgen.port -}}
{{- end -}}
{{- end -}}
