"""EEG and MEG of one current dipole in a spherical head, radial against tangential.

A patch of synchronously active cortex is a current dipole q (in A·m) at r0. What the
sensors record is linear in q: one column of numbers per sensor, the lead field L (R x M,
rows sources, columns sensors), and the sensor signals are y = s L for source amplitudes s.

* EEG: the scalp potential of the dipole in three concentric shells (brain, skull, scalp,
  conductivities 0.33, 0.0042, 0.33 S/m), by the exact Legendre series
  (``sphere_eeg_leadfield``; de Munck 1988), reference at infinity.
* MEG: the magnetic field outside the sphere by the closed form of Sarvas (1987)
  (``sphere_meg_leadfield``). It does not depend on the conductivities and has a striking
  property: a *radial* dipole (q parallel to r0) produces no field outside a spherically
  symmetric conductor, whatever its strength. MEG sees only the tangential part of a source;
  EEG sees both (and a radial source best).

Run it with ``python -m fwdmodels.examples sphere_dipole``; it prints the largest potential
and field of a 10 nA·m dipole in each orientation and writes ``sphere_dipole.png`` (four
topographies: EEG on the 10-10 electrodes and MEG on the magnetometers of a 102-site helmet,
each for the tangential and the radial dipole, MEG panels on one colour scale) and
``sphere_dipole_leadfield.png`` (the EEG lead field of a row of tangential dipoles from left
to right across the head: each row of the image is one source's topography).
"""

from pathlib import Path

import numpy as np


def main(outdir=".") -> list[Path]:
    from fwdmodels import ureg
    from fwdmodels.leadfield import sensors, sphere_eeg_leadfield, sphere_meg_leadfield
    from fwdmodels.plotting import (add_note, new_figure, plot_leadfield, plot_topography,
                                    save_figure)

    # The head: three shells around the origin (x right, y front, z up); sensors around it.
    radii = [8.1, 8.5, 9.0] * ureg.cm
    conductivities = [0.33, 0.0042, 0.33] * ureg("S/m")
    eeg = sensors.eeg_1010(radius="9 cm")              # the 10-10 electrodes on the scalp
    meg = sensors.meg_helmet(102, radius="12 cm")      # 102 sites, 12 cm from the centre

    # One dipole 6.4 cm from the centre, under the left central area, 10 nA·m strong.
    position = np.array([[-0.03, 0.0, 0.057]]) * ureg.m
    radial = position.magnitude / np.linalg.norm(position.magnitude)          # along r0
    tangential = np.cross(radial, [0.0, 1.0, 0.0])                            # ⟂ r0, in x-z
    tangential /= np.linalg.norm(tangential)
    moment = 10 * ureg("nA*m")

    maps = {}
    for name, orientation in (("tangential", tangential), ("radial", radial)):
        L_eeg = sphere_eeg_leadfield(position, orientation, eeg.positions, radii,
                                     conductivities)                          # (1, M), V/(A·m)
        mags, normals = meg.magnetometers()
        L_meg = sphere_meg_leadfield(position, orientation, mags, normals)    # (1, 102), T/(A·m)
        # Sensor signal = dipole moment x lead field, in the units we like to read.
        maps[name] = ((moment * L_eeg[0]).to("uV"), (moment * L_meg[0]).to("fT"))
        v, b = maps[name]
        print(f"{name:>10} dipole, 10 nA·m: EEG max |V| = {np.abs(v).max():.3g~P}, "
              f"MEG max |B| = {np.abs(b).max():.3g~P}")
    print("A radial dipole gives no MEG outside a sphere: its field is zero to rounding.")

    fig = new_figure((10, 9), "the sphere_dipole example")
    fig.suptitle("A 10 nA·m dipole: EEG sees both orientations, MEG only the tangential one")
    axes = fig.subplots(2, 2)
    meg_scale = float(np.abs(maps["tangential"][1].magnitude).max())
    for col, name in enumerate(("tangential", "radial")):
        v, b = maps[name]
        plot_topography(v, eeg, unit="uV", label="potential", ax=axes[0, col],
                        title=f"EEG, {name} dipole")
        plot_topography(b, meg, unit="fT", label="magnetic field", vmax=meg_scale,
                        ax=axes[1, col], title=f"MEG magnetometers, {name} dipole")
    # The radial MEG panel is blank on purpose: say so on it (under the map, hiding nothing).
    largest = np.abs(maps["radial"][1]).max()
    add_note(axes[1, 1], f"No field outside the sphere: max |B| = {largest:.3g~P},\n"
                         "zero to rounding (same colour scale as the left)", where=())
    paths = [save_figure(fig, Path(outdir) / "sphere_dipole.png")]

    # A lead-field matrix: 9 tangential dipoles from left to right at the same depth.
    xs = np.linspace(-0.04, 0.04, 9)
    row = np.column_stack([xs, np.zeros_like(xs), np.sqrt(0.065 ** 2 - xs ** 2)])
    orient = np.cross(row / 0.065, [0.0, 1.0, 0.0])
    eeg20 = sensors.eeg_1020(radius="9 cm")
    L = sphere_eeg_leadfield(row * ureg.m, orient, eeg20.positions, radii, conductivities)
    fig = plot_leadfield(L, unit="uV/(nA*m)", sensor_names=eeg20.names,
                         source_names=[f"x = {100 * x:+.0f} cm" for x in xs],
                         title="EEG lead field of tangential dipoles: the pattern moves "
                               "right with the source")
    fig.set_size_inches(10, 5)
    paths.append(save_figure(fig, Path(outdir) / "sphere_dipole_leadfield.png"))
    return paths


if __name__ == "__main__":
    main()
