{{/* Names and labels, as `helm create` makes them. */}}
{{- define "lagwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lagwatch.fullname" -}}
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

{{- define "lagwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lagwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lagwatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lagwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lagwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lagwatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret mounted in /run/secrets/lagwatch: the user's own, or the one this chart makes from `secrets`. */}}
{{- define "lagwatch.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else if .Values.secrets }}
{{- include "lagwatch.fullname" . }}
{{- end }}
{{- end }}

{{/* Several replicas with their own volumes: a StatefulSet (one claim each); otherwise a Deployment. */}}
{{- define "lagwatch.statefulSet" -}}
{{- if and .Values.persistence.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* What lagwatch needs of the values, checked before anything is rendered. */}}
{{- define "lagwatch.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.config.coordination) }}
{{- fail "replicaCount > 1 needs config.coordination: uncoordinated replicas would each notify every alert (see values-ha.yaml and docs/operations.md \"Running several replicas\")" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) .Values.persistence.existingClaim }}
{{- fail "persistence.existingClaim serves one replica only: two processes must never share one spool directory" }}
{{- end }}
{{- if not .Values.config.clusters }}
{{- fail "config.clusters: name at least one Kafka cluster to watch" }}
{{- end }}
{{- end }}
