"""Write the TVB files of tests/data with TVB's own code (run once; not part of the tests).

tvb_g2d.h5 and tvb_rsfhn.h5 are TimeSeriesRegion H5 files written by tvb-framework 2.10's
``TimeSeriesRegionH5`` from simulations run by tvb-library 2.10 (tvb-framework is a web
application with ~100 dependencies, so it is not in the test extra; tvb-library is):

    python -m venv /tmp/tvbw && /tmp/tvbw/bin/pip install tvb-framework tvb-data
    /tmp/tvbw/bin/python tests/data/make_tvb_files.py tests/data

* tvb_g2d.h5: Generic2dOscillator, both state variables (V, W), 4 regions, one mode,
  TemporalAverage every 5 ms for 3 s (600 samples).
* tvb_rsfhn.h5: ReducedSetFitzHughNagumo, its recorded state variables (xi, alpha),
  4 regions, 3 modes, TemporalAverage every 1 ms for 40 ms.
"""

import sys
from pathlib import Path

import numpy as np
from tvb.adapters.datatypes.h5.time_series_h5 import TimeSeriesRegionH5
from tvb.datatypes.time_series import TimeSeriesRegion
from tvb.simulator.lab import connectivity, coupling, integrators, models, monitors, simulator


def _connectivity():
    rng = np.random.default_rng(1)
    weights = rng.random((4, 4))
    np.fill_diagonal(weights, 0.0)
    conn = connectivity.Connectivity(
        weights=weights, tract_lengths=20 + 30 * rng.random((4, 4)),
        region_labels=np.array(["lA1", "lV1", "rA1", "rV1"]),
        centres=rng.standard_normal((4, 3)) * 30, speed=np.array([4.0]))
    conn.configure()
    return conn


def _write(path, model, monitor, length, voi, dt=0.05):
    conn = _connectivity()
    sim = simulator.Simulator(model=model, connectivity=conn, coupling=coupling.Linear(),
                              integrator=integrators.HeunDeterministic(dt=dt),
                              monitors=(monitor,), simulation_length=length)
    sim.configure()
    (t, data), = sim.run()
    ts = TimeSeriesRegion(data=data, time=t, connectivity=conn, sample_period=monitor.period,
                          sample_period_unit="ms",
                          labels_ordering=["Time", "State Variable", "Region", "Mode"],
                          labels_dimensions={"State Variable": list(voi),
                                             "Region": list(conn.region_labels)},
                          title=type(model).__name__)
    ts.configure()
    path.unlink(missing_ok=True)
    with TimeSeriesRegionH5(str(path)) as f:
        f.store(ts)
    print(path, data.shape)


if __name__ == "__main__":
    out = Path(sys.argv[1])
    _write(out / "tvb_g2d.h5", models.Generic2dOscillator(variables_of_interest=("V", "W")),
           monitors.TemporalAverage(period=5.0), 3000.0, ("V", "W"))
    rs = models.ReducedSetFitzHughNagumo()
    _write(out / "tvb_rsfhn.h5", rs, monitors.TemporalAverage(period=1.0), 40.0,
           rs.variables_of_interest, dt=0.01)
