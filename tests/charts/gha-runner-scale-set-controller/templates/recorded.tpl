# Test stand-in: records the values this release received, for tests to read back. Kept
# parseable as plain YAML (the collection's sanity yamllint reads it).
apiVersion: v1
kind: ConfigMap
metadata:
  name: '{{ .Release.Name }}-recorded-values'
  namespace: '{{ .Release.Namespace }}'
data:
  values.yaml: |
    {{- toYaml .Values | nindent 4 }}
