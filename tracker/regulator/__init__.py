"""The regulator's portal (人社部门监管): search, per-trainee traces, random sampling (双随机), anomalies, exports."""
