"""Physics expectations for the line: the heat-pump cycle model (CoolProp) and the small helpers
for vacuum, leak test and charging.

The rules engine reaches the cycle model through ``app.domain.expectations.CycleExpectations``
(implemented by ``app.cyclemodel.provider.CoolPropExpectations``) and imports the helpers in
``app.cyclemodel.leak``, ``app.cyclemodel.vacuum`` and ``app.cyclemodel.charge`` directly.
"""

CODE_VERSION = "cyclemodel-2"  # 2: EVI at the geometric-mean pressure, product EVI data; sets in the database
