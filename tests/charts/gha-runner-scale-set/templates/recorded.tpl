# Test stand-in: records the values this release received, for tests to read back. The
# upstream chart (templates/autoscalingrunnerset.yaml) refuses a scale set name over 45
# characters; so does this one. Kept parseable as plain YAML (the collection's sanity
# yamllint reads it).
apiVersion: v1
kind: ConfigMap
metadata:
  name: '{{ .Release.Name }}-recorded-values'
  namespace: '{{ .Release.Namespace }}'
  annotations:
    glorious.flywheel/test-stand-in: '{{ if gt (len (.Values.runnerScaleSetName | default .Release.Name)) 45 }}{{ fail "Name must have up to 45 characters" }}{{ end }}gha-runner-scale-set'
data:
  values.yaml: |
    {{- toYaml .Values | nindent 4 }}
