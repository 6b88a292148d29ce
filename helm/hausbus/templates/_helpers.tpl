{{/* Names, labels and shared pod parts of the hausbus chart. */}}

{{/* The six MQTT components, each a StatefulSet with its own sqlite volume. */}}
{{- define "hausbus.components" -}}
order product payment delivery notification view
{{- end }}

{{- define "hausbus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-wide prefix of every object name. */}}
{{- define "hausbus.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one workload's objects. Call with (dict "root" $ "name" "order"). */}}
{{- define "hausbus.workloadName" -}}
{{- printf "%s-%s" (include "hausbus.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hausbus.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "hausbus.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "hausbus.imageTag" .) }}
{{- end }}

{{/* Selector labels of one workload: stable across upgrades. Call with (dict "root" $ "name" ...). */}}
{{- define "hausbus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hausbus.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* All labels of one workload's objects; `app` and `version` are the ones Istio reads. */}}
{{- define "hausbus.labels" -}}
{{ include "hausbus.selectorLabels" . }}
app: {{ printf "hausbus-%s" .name }}
version: {{ (include "hausbus.imageTag" .root) | quote }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: hausbus
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The HAUSBUS_* environment of one workload, as ConfigMap data. The workload's ConfigMap
and the checksum/config annotation of its pods both render it, so a change rolls exactly
the pods it concerns. Call with (dict "root" $ "name" "order" "logLevel" "info").
*/}}
{{- define "hausbus.configData" -}}
{{- $v := .root.Values -}}
HAUSBUS_MQTT_HOST: {{ include "hausbus.workloadName" (dict "root" .root "name" "mosquitto") | quote }}
HAUSBUS_MQTT_PORT: {{ $v.mosquitto.port | quote }}
HAUSBUS_DATA_DIR: {{ $v.config.dataDir | quote }}
HAUSBUS_LOG_LEVEL: {{ .logLevel | quote }}
HAUSBUS_REDRIVE_MS: {{ $v.config.redriveMs | quote }}
HAUSBUS_REQUEST_TIMEOUT_MS: {{ $v.config.requestTimeoutMs | quote }}
HAUSBUS_COMMIT_BATCH: {{ $v.config.commitBatch | quote }}
HAUSBUS_PAYMENT_LIMIT: {{ $v.config.paymentLimit | int64 | quote }}
{{- if eq .name "gateway" }}
HAUSBUS_HTTP_BIND: "0.0.0.0"
HAUSBUS_HTTP_PORT: {{ $v.gateway.port | quote }}
HAUSBUS_AUTH: {{ $v.gateway.auth.mode | quote }}
{{- if $v.gateway.auth.existingSecret }}
HAUSBUS_AUTH_SECRET_FILE: {{ printf "/etc/hausbus/auth/%s" $v.gateway.auth.secretKey | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* Liveness/readiness timing shared by every pod. */}}
{{- define "hausbus.probeTiming" -}}
initialDelaySeconds: {{ .Values.probes.initialDelaySeconds }}
periodSeconds: {{ .Values.probes.periodSeconds }}
timeoutSeconds: {{ .Values.probes.timeoutSeconds }}
failureThreshold: {{ .Values.probes.failureThreshold }}
{{- end }}


{{/* mosquitto.conf for the cluster: broker/mosquitto.conf, listening on every address. */}}
{{- define "hausbus.mosquittoConf" -}}
per_listener_settings false
listener {{ .Values.mosquitto.port }}
# Anonymous like ./run.sh; the broker is reachable only inside the cluster (docs/SECURITY.md).
allow_anonymous true
# A component that is down keeps its QoS 1 messages queued in its session.
persistence true
persistence_location /mosquitto/data/
autosave_interval 1
autosave_on_changes false
persistent_client_expiration 7d
set_tcp_nodelay true
max_queued_messages 100000
max_inflight_messages 100
max_packet_size 2097152
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages true
{{- end }}
